/**
 * Prints the effective configuration (every default filled in) in gmetad.conf syntax, for
 * `gmetad -t -c FILE`. Parsing the output again gives an equal config (apart from the
 * `origin` line numbers), which the unit tests check.
 */
import { formatAddress } from './address';
import { DEFAULT_SOURCE_LIMITS, LIMIT_NAMES } from './limits';
import type { GmetadConfig, SourceLimits } from './types';

/** Values made only of these characters need no quotes; everything else gets "..." */
const BARE = /^[A-Za-z0-9_.:/%,=+@[\]-]+$/;

function quote(value: string): string {
  // Backslash protects `"`, `\` and `$` (the latter against ${NAME} substitution).
  return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
}

function word(value: string): string {
  return BARE.test(value) ? value : quote(value);
}

const onOff = (value: boolean): string => (value ? 'on' : 'off');
const oneZero = (value: boolean): string => (value ? '1' : '0');

/** `directive value`, or a comment saying it is unset. */
function optional(directive: string, value: string | null, unsetNote: string): string {
  return value === null ? `# ${directive}: not set (${unsetNote})` : `${directive} ${quote(value)}`;
}

export function describeConfig(config: GmetadConfig): string {
  const lines: string[] = [
    `# Effective configuration read from ${config.file}, defaults filled in.`,
    '',
  ];

  if (config.dataSources.length === 0) lines.push('# data_source: none configured');
  for (const ds of config.dataSources) {
    lines.push(`data_source ${quote(ds.name)} ${ds.step} ${ds.addresses.map(formatAddress).join(' ')}`);
  }

  lines.push(
    '',
    `gridname ${quote(config.gridname)}`,
    optional('authority', config.authority, 'http://<hostname>/ganglia/'),
    config.trustedHosts.length === 0
      ? '# trusted_hosts: none (127.0.0.1 is always trusted)'
      : `trusted_hosts ${config.trustedHosts.map(word).join(' ')}`,
    // Written only when on: `all_trusted off` draws a migration warning (C trusted everyone then).
    config.allTrusted ? 'all_trusted on' : '# all_trusted: off (only 127.0.0.1 and trusted_hosts may read the XML port)',
    `debug_level ${config.debugLevel}`,
    `xml_port ${config.xmlPort}`,
    `interactive_port ${config.interactivePort}`,
    `server_threads ${config.serverThreads}`,
    config.umask === null
      ? '# umask: not set (0 when daemonized, as the C gmetad)'
      : `umask 0${config.umask.toString(8)}`,
    `rrd_rootdir ${quote(config.rrdRootdir)}`,
    optional('rrdcached_address', config.rrdcachedAddress, 'RRD files are written directly'),
    `setuid ${onOff(config.setuid)}`,
    `setuid_username ${quote(config.setuidUsername)}`,
    `scalable ${onOff(config.scalable)}`,
    `write_rrds ${onOff(config.writeRrds)}`,
    `RRAs ${config.rras.map(quote).join(' ')}`,
    `case_sensitive_hostnames ${oneZero(config.caseSensitiveHostnames)}`,
    '',
    optional('carbon_server', config.carbon.server, 'no Graphite export'),
    `carbon_port ${config.carbon.port}`,
    `carbon_protocol ${config.carbon.protocol}`,
    `carbon_timeout ${config.carbon.timeoutMs}`,
    optional('graphite_prefix', config.carbon.graphitePrefix, 'none'),
    optional('graphite_path', config.carbon.graphitePath, 'graphite_prefix.%s.%h.%m'),
    optional('memcached_parameters', config.memcached.parameters, 'no memcached export'),
    `memcached_include_cluster_in_key ${oneZero(config.memcached.includeClusterInKey)}`,
    optional('riemann_server', config.riemann.server, 'no Riemann export'),
    `riemann_port ${config.riemann.port}`,
    `riemann_protocol ${config.riemann.protocol}`,
    optional('riemann_attributes', config.riemann.attributes, 'none'),
    '',
    config.unsummarizedMetrics.length === 0
      ? '# unsummarized_metrics: none'
      : `unsummarized_metrics ${config.unsummarizedMetrics.map(word).join(' ')}`,
    `unsummarized_sflow_vm_metrics ${onOff(config.unsummarizedSflowVmMetrics)}`,
    config.summarizedMetrics.length === 0
      ? '# summarized_metrics: none (every numeric metric is summarised)'
      : `summarized_metrics ${config.summarizedMetrics.map(word).join(' ')}`,
    optional('plugins_dir', config.pluginsDir, 'no plugins'),
    `port_thread_nice ${config.portThreadNice}`,
  );

  lines.push('', 'limits {');
  for (const [key, name] of Object.entries(LIMIT_NAMES) as [keyof SourceLimits, string][]) {
    lines.push(`  # ${name} ${DEFAULT_SOURCE_LIMITS[key]} (default)`);
    for (const ds of config.dataSources) {
      if (ds.limits[key] !== DEFAULT_SOURCE_LIMITS[key]) lines.push(`  ${name} ${quote(ds.name)} ${ds.limits[key]}`);
    }
  }
  lines.push('}');

  for (const section of config.pluginSections) {
    lines.push('', `${word(section.name)} {`);
    for (const directive of section.directives) {
      lines.push(`  ${[directive.key, ...directive.values].map(word).join(' ')}`);
    }
    lines.push('}');
  }
  return `${lines.join('\n')}\n`;
}
