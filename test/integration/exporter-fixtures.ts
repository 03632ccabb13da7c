/**
 * Documents the exporter tests serve to both gmetads through a fake gmond (the same input
 * every poll): the anchor capture of a real gmond, a crafted one exercising every naming
 * and selection rule, and a child grid whose hosts must not be exported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..', '..');
export const ANCHOR = fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'anchor', 'gmond.xml'), 'latin1');

const m = (name: string, val: string, type: string, extra = '') =>
  `<METRIC NAME="${name}" VAL="${val}" TYPE="${type}" UNITS="" TN="5" TMAX="60" DMAX="0" SLOPE="both" SOURCE="gmond" ${extra}/>`;

/** A gmond-like document exercising every naming and selection rule. */
export const CRAFTED = `<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>
<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond">
<CLUSTER NAME="Web Farm" LOCALTIME="1795255600" OWNER="o" LATLONG="" URL="">
<HOST NAME="Web01.Example.COM" IP="10.1.0.1" REPORTED="1795255590" TN="10" TMAX="20" DMAX="0" LOCATION="rack 1" TAGS="a,b" GMOND_STARTED="0">
${m('load_one', '1.25', 'float')}
${m('bytes in', '123.5', 'double')}
${m('cpu_num', '4', 'uint16')}
${m('temp', '-3', 'int8')}
${m('os_name', 'Linux', 'string')}
${m('boottime', '1795200000', 'timestamp')}
${m('app.requests', '99', 'uint32')}
<METRIC NAME="gone" VAL="7" TYPE="uint32" UNITS="" TN="500" TMAX="60" DMAX="100" SLOPE="both" SOURCE="gmond"/>
<METRIC NAME="kernel" VAL="6.1.0 #1 SMP" TYPE="string" UNITS="" TN="50" TMAX="1200" DMAX="3600" SLOPE="zero" SOURCE="gmond"/>
</HOST>
<HOST NAME="DownHost" IP="10.1.0.2" REPORTED="1795255000" TN="600" TMAX="20" DMAX="0" LOCATION="" GMOND_STARTED="0">
${m('load_one', '9', 'float')}
</HOST>
<HOST NAME="OldStyle" IP="10.1.0.3" REPORTED="1795255570" TN="30" TMAX="0" DMAX="0" LOCATION="" GMOND_STARTED="0">
${m('load_one', '0.5', 'float')}
</HOST>
</CLUSTER>
</GANGLIA_XML>
`;

export const CHILD_GRID = `<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>
<GANGLIA_XML VERSION="3.7.2" SOURCE="gmetad">
<GRID NAME="ChildGrid" AUTHORITY="http://child/ganglia/" LOCALTIME="1795255600">
<CLUSTER NAME="Inner" LOCALTIME="1795255600" OWNER="" LATLONG="" URL="">
<HOST NAME="inner1" IP="10.2.0.1" REPORTED="1795255590" TN="10" TMAX="20" DMAX="0" LOCATION="" GMOND_STARTED="0">
${m('load_one', '2', 'float')}
</HOST>
</CLUSTER>
</GRID>
</GANGLIA_XML>
`;

/** What ours must send for CRAFTED with the C defaults and case_sensitive_hostnames 0. */
export const CRAFTED_LINES = [
  'Web_Farm.web01_example_com.load_one 1.25 1795255600',
  'Web_Farm.web01_example_com.bytes_in 123.5 1795255600',
  'Web_Farm.web01_example_com.cpu_num 4 1795255600',
  'Web_Farm.web01_example_com.temp -3 1795255600',
  'Web_Farm.web01_example_com.app.requests 99 1795255600',
  'Web_Farm.oldstyle.load_one 0.5 1795255600',
];

