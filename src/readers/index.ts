/** The network side of the readers: what the daemon wires together for each data_source. */
export { type Connector, TcpConnector, ConnectError, formatAddress, describeNetError } from './connector';
export { type DocumentParser, type DocumentParserFactory } from './document';
export {
  SourcePoller,
  nextPollDelay,
  STEP_JITTER,
  type PollerStatus,
  type PollerLogger,
  type PollerTimeouts,
  type SourcePollerDeps,
  type PollOutcome,
  type AddressFailure,
} from './poller';
