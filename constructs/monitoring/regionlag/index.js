// Compares this region's pinset with the other region's, every few
// minutes: an alarm cannot read another region's metrics. Reads each
// region's per-region pin count (GetMetricData, a client per region) and
// publishes to this region how far the other is behind and whether it
// reports at all. Inline (CommonJS): the SDK v3 comes with the runtime.
'use strict';

const MINUTE = 60000;

// pinsOf is a region's pin count per minute, the most any of its peers held.
async function pinsOf(cw, commands, c, stack, region, start, end) {
  const out = await cw.send(new commands.GetMetricDataCommand({
    StartTime: new Date(start),
    EndTime: new Date(end),
    ScanBy: 'TimestampAscending',
    MetricDataQueries: [{
      Id: 'pins',
      MetricStat: {
        Metric: {
          Namespace: c.namespace,
          MetricName: c.pinsMetric,
          Dimensions: [{ Name: c.stackDimension, Value: stack }, { Name: c.regionDimension, Value: region }],
        },
        Period: 60,
        Stat: 'Maximum',
      },
    }],
  }));
  const r = (out.MetricDataResults || [])[0] || {};
  return (r.Timestamps || []).map((t, i) => ({ t: new Date(t).getTime(), v: r.Values[i] }));
}

// lag is the least this region held minus the most the other held within
// the last windowMinutes both reported; undefined without data on a side.
function lag(here, there, windowMinutes) {
  if (here.length === 0 || there.length === 0) return undefined;
  const end = Math.min(Math.max(...here.map((p) => p.t)), Math.max(...there.map((p) => p.t)));
  const inWindow = (p) => p.t > end - windowMinutes * MINUTE && p.t <= end;
  const h = here.filter(inWindow).map((p) => p.v);
  const o = there.filter(inWindow).map((p) => p.v);
  if (h.length === 0 || o.length === 0) return undefined;
  return Math.min(...h) - Math.max(...o);
}

async function check(c, deps) {
  const end = deps.now();
  const start = end - c.lookbackMinutes * MINUTE;
  const here = deps.client(c.region);
  const there = deps.client(c.otherRegion);
  const mine = await pinsOf(here.client, here.commands, c, c.stack, c.region, start, end);
  let theirs = [];
  try {
    theirs = await pinsOf(there.client, there.commands, c, c.otherStack, c.otherRegion, start, end);
  } catch (e) {
    // The other region's CloudWatch unreachable: it does not report.
    deps.log(`reading ${c.otherRegion}: ${e.name}: ${e.message}`);
  }
  const result = { reporting: theirs.length > 0 ? 1 : 0, lag: lag(mine, theirs, c.windowMinutes) };
  const dims = [{ Name: c.stackDimension, Value: c.stack }, { Name: c.otherRegionDimension, Value: c.otherRegion }];
  const data = [{ MetricName: c.reportingMetric, Dimensions: dims, Value: result.reporting, Unit: 'Count', Timestamp: new Date(end) }];
  if (result.lag !== undefined) {
    data.push({ MetricName: c.lagMetric, Dimensions: dims, Value: result.lag, Unit: 'Count', Timestamp: new Date(end) });
  }
  await here.client.send(new here.commands.PutMetricDataCommand({ Namespace: c.namespace, MetricData: data }));
  deps.log(JSON.stringify({ otherRegion: c.otherRegion, mine: mine.length, theirs: theirs.length, ...result }));
  return result;
}

function makeHandler(deps) {
  return async () => check(JSON.parse(deps.env.REGION_LAG), deps);
}

const clients = {};
function sdkClient(region) {
  const sdk = require('@aws-sdk/client-cloudwatch');
  clients[region] = clients[region] || new sdk.CloudWatchClient({ region });
  return { client: clients[region], commands: sdk };
}

module.exports = {
  makeHandler,
  lag,
  handler: makeHandler({ client: sdkClient, now: Date.now, env: process.env, log: console.log }),
};
