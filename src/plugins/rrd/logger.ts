/** The RRD writer logs through the daemon's structured logger (see util/logging). */
export type { StructuredLogger as RrdLogger } from '../../util/logging';
export { SILENT_LOGGER } from '../../util/logging';
