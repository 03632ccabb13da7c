/** The native RRD updater: see native-updater.ts for the interface and usage. */
export {
  NativeRrdFile, NativeRrdUpdater, RrdUpdateError,
  type NativeRrdUpdaterOptions, type NativeUpdateOutcome, type RrdInspection, type RrdUpdate, type RrdUpdateErrorKind, type RrdValue,
} from './native-updater';
