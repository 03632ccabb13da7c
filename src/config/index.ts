/** Public face of the configuration module. */
export { loadConfig, parseConfig, type LoadOptions, type ParseOptions, type ParseResult } from './load';
export { describeConfig } from './describe';
export { ConfigError, type ConfigErrorCode, type ConfigWarning } from './errors';
export { DEFAULTS, defaultConfig } from './defaults';
export { parseAddress, formatAddress } from './address';
export type { GmetadConfig, DataSourceConfig, SourceAddress, PluginSection } from './types';
