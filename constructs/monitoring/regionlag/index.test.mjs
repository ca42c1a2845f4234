// Tests for the cross-region pinset check (node:test, fake CloudWatch
// clients per region, no network).
// Run: node --test constructs/monitoring/regionlag/index.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const { makeHandler, lag } = createRequire(import.meta.url)('./index.js');

class GetMetricDataCommand { constructor(input) { this.input = input; } }
class PutMetricDataCommand { constructor(input) { this.input = input; } }
const commands = { GetMetricDataCommand, PutMetricDataCommand };

const config = {
  namespace: 'IpfsCluster',
  pinsMetric: 'ipfscluster_pins',
  stackDimension: 'stack',
  regionDimension: 'region',
  otherRegionDimension: 'otherRegion',
  stack: 'IpfsCluster',
  region: 'eu-west-1',
  otherStack: 'IpfsClusterOther',
  otherRegion: 'us-east-2',
  lagMetric: 'OtherRegionPinsetLag',
  reportingMetric: 'OtherRegionReporting',
  windowMinutes: 5,
  lookbackMinutes: 10,
};

const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const minute = (m) => NOW + m * 60000;

// series turns [[minute offset, pins], ...] into points.
const series = (pairs) => pairs.map(([m, v]) => ({ t: minute(m), v }));

// fakeRegions answers GetMetricData per region from pins (minute offset ->
// value) or throws fail[region]; it records every client made and command
// sent, by region.
function fakeRegions(pins, fail = {}) {
  const made = [];
  const sent = {};
  const client = (region) => {
    made.push(region);
    sent[region] = sent[region] || [];
    return {
      commands,
      client: {
        async send(cmd) {
          sent[region].push(cmd);
          if (cmd instanceof GetMetricDataCommand) {
            if (fail[region]) throw fail[region];
            const points = (pins[region] || []).filter(([m]) => minute(m) >= cmd.input.StartTime.getTime() && minute(m) <= cmd.input.EndTime.getTime());
            return { MetricDataResults: [{ Id: 'pins', Timestamps: points.map(([m]) => new Date(minute(m))), Values: points.map(([, v]) => v) }] };
          }
          if (cmd instanceof PutMetricDataCommand) return {};
          throw new Error('unexpected command');
        },
      },
    };
  };
  return { client, made, sent };
}

async function run(pins, fail) {
  const fake = fakeRegions(pins, fail);
  const lines = [];
  const handler = makeHandler({ client: fake.client, now: () => NOW, env: { REGION_LAG: JSON.stringify(config) }, log: (l) => lines.push(l) });
  const result = await handler({});
  const put = fake.sent['eu-west-1'].filter((c) => c instanceof PutMetricDataCommand);
  return { result, fake, put, lines };
}

// published is what the handler wrote, by metric name.
function published(put) {
  assert.equal(put.length, 1, 'one PutMetricData per run');
  assert.equal(put[0].input.Namespace, 'IpfsCluster');
  const out = {};
  for (const d of put[0].input.MetricData) {
    assert.deepEqual(d.Dimensions, [{ Name: 'stack', Value: 'IpfsCluster' }, { Name: 'otherRegion', Value: 'us-east-2' }]);
    out[d.MetricName] = d.Value;
  }
  return out;
}

test('each region is read through a client of its own region, for its own stack and region', async () => {
  const { fake } = await run({ 'eu-west-1': [[-3, 10]], 'us-east-2': [[-3, 10]] });
  assert.deepEqual(fake.made.sort(), ['eu-west-1', 'us-east-2']);
  for (const [region, stack] of [['eu-west-1', 'IpfsCluster'], ['us-east-2', 'IpfsClusterOther']]) {
    const gets = fake.sent[region].filter((c) => c instanceof GetMetricDataCommand);
    assert.equal(gets.length, 1, region);
    const q = gets[0].input.MetricDataQueries[0].MetricStat;
    assert.deepEqual(q.Metric, {
      Namespace: 'IpfsCluster',
      MetricName: 'ipfscluster_pins',
      Dimensions: [{ Name: 'stack', Value: stack }, { Name: 'region', Value: region }],
    });
    assert.equal(q.Stat, 'Maximum', 'the best-informed peer of the region');
    assert.equal(q.Period, 60);
    assert.equal(gets[0].input.EndTime.getTime(), NOW);
    assert.equal(gets[0].input.StartTime.getTime(), minute(-10));
  }
  assert.equal(fake.sent['us-east-2'].filter((c) => c instanceof PutMetricDataCommand).length, 0, 'nothing is written to the other region');
});

test('regions in step: no lag, reporting', async () => {
  const pins = { 'eu-west-1': [[-6, 100], [-5, 100], [-4, 100], [-3, 100]], 'us-east-2': [[-6, 100], [-5, 100], [-4, 100]] };
  const { put } = await run(pins);
  assert.deepEqual(published(put), { OtherRegionReporting: 1, OtherRegionPinsetLag: 0 });
});

test('the other region stuck behind: lag is the pins it lacks', async () => {
  const pins = { 'eu-west-1': [[-8, 120], [-7, 121], [-6, 122], [-5, 123], [-4, 124], [-3, 125]], 'us-east-2': [[-8, 100], [-7, 100], [-6, 100], [-5, 100], [-4, 100], [-3, 100]] };
  const { put } = await run(pins);
  // Window: the five minutes to -3 (both reported there): least here 121, most there 100.
  assert.deepEqual(published(put), { OtherRegionReporting: 1, OtherRegionPinsetLag: 21 });
});

test('an import or a mass unpin in progress, seen a scrape apart, is no lag', () => {
  // Adds: the other region is always a minute behind this one's scrape.
  const here = series([[-5, 10], [-4, 20], [-3, 30], [-2, 40], [-1, 50]]);
  const there = series([[-5, 0], [-4, 10], [-3, 20], [-2, 30], [-1, 40]]);
  assert.ok(lag(here, there, 5) <= 0);
  // Unpins: the same, downwards.
  const down = series([[-5, 50], [-4, 40], [-3, 30], [-2, 20], [-1, 10]]);
  const downThere = series([[-5, 60], [-4, 50], [-3, 40], [-2, 30], [-1, 20]]);
  assert.ok(lag(down, downThere, 5) <= 0);
  // Stuck while this region keeps adding: lag.
  assert.equal(lag(here, series([[-5, 0], [-4, 0], [-3, 0], [-2, 0], [-1, 0]]), 5), 10);
});

test('the window ends where both regions have data, so a slower region is not behind for its delay', () => {
  // The other region's latest minute is -4; this region's -1 is ignored.
  const here = series([[-8, 5], [-7, 5], [-6, 5], [-5, 5], [-4, 5], [-1, 9]]);
  const there = series([[-8, 5], [-7, 5], [-6, 5], [-5, 5], [-4, 5]]);
  assert.equal(lag(here, there, 5), 0);
});

test('the other region without data: not reporting, and no lag published', async () => {
  const { put, result } = await run({ 'eu-west-1': [[-3, 10]] });
  assert.deepEqual(published(put), { OtherRegionReporting: 0 });
  assert.equal(result.lag, undefined);
});

test('the other region unreachable: not reporting, the error logged, the run succeeds', async () => {
  const down = Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' });
  const { put, lines } = await run({ 'eu-west-1': [[-3, 10]] }, { 'us-east-2': down });
  assert.deepEqual(published(put), { OtherRegionReporting: 0 });
  assert.ok(lines.some((l) => l.includes('us-east-2') && l.includes('TimeoutError')), lines.join('\n'));
});

test('this region without data: the other reports, no lag', async () => {
  const { put } = await run({ 'us-east-2': [[-3, 10]] });
  assert.deepEqual(published(put), { OtherRegionReporting: 1 });
});

test('a failure to read this region or to publish fails the run', async () => {
  const denied = Object.assign(new Error('not authorized'), { name: 'AccessDenied' });
  await assert.rejects(run({ 'us-east-2': [[-3, 10]] }, { 'eu-west-1': denied }), /not authorized/);
  const fake = fakeRegions({ 'eu-west-1': [[-3, 1]], 'us-east-2': [[-3, 1]] });
  const client = (region) => {
    const c = fake.client(region);
    const send = c.client.send;
    c.client.send = async (cmd) => { if (cmd instanceof PutMetricDataCommand) throw denied; return send(cmd); };
    return c;
  };
  const handler = makeHandler({ client, now: () => NOW, env: { REGION_LAG: JSON.stringify(config) }, log: () => {} });
  await assert.rejects(handler({}), /not authorized/);
});
