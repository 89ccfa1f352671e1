import { el, svg } from './dom.js';

/** Bottom to top in each bar: what went out, then what is still being tried, then what failed. */
export const OUTCOMES = ['delivered', 'deferred', 'bounced', 'expired'];

const WIDTH = 720;
const HEIGHT = 200;
const PLOT = { left: 44, right: 8, top: 10, bottom: 26 };

const hourOf = (ms) => String(new Date(ms).getHours()).padStart(2, '0');

/** Counts per hour as stacked bars (inline SVG), with a legend of the totals. */
export function outcomeChart(stats) {
  const buckets = stats.buckets;
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const sum = (counts) => OUTCOMES.reduce((total, outcome) => total + (counts[outcome] ?? 0), 0);
  const peak = Math.max(1, ...buckets.map((bucket) => sum(bucket.counts)));
  const slot = plotWidth / Math.max(buckets.length, 1);
  const barWidth = Math.max(1, slot * 0.75);
  const scale = (count) => (count / peak) * plotHeight;
  const baseline = PLOT.top + plotHeight;

  const chart = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': `Recipient outcomes per hour over the last ${buckets.length} hours`,
  });
  chart.append(
    svg('line', { class: 'axis', x1: PLOT.left, x2: WIDTH - PLOT.right, y1: baseline, y2: baseline }),
    svg('text', { class: 'tick', x: PLOT.left - 6, y: PLOT.top + 10, 'text-anchor': 'end' }, String(peak)),
    svg('text', { class: 'tick', x: PLOT.left - 6, y: baseline, 'text-anchor': 'end' }, '0'),
  );
  const labelEvery = Math.ceil(buckets.length / 12);
  buckets.forEach((bucket, index) => {
    const x = PLOT.left + index * slot + (slot - barWidth) / 2;
    const group = svg('g', { class: 'bucket' });
    const end = bucket.start + stats.bucketMs;
    const counts = OUTCOMES.map((outcome) => `${bucket.counts[outcome] ?? 0} ${outcome}`).join(', ');
    group.append(svg('title', {}, `${hourOf(bucket.start)}:00-${hourOf(end)}:00: ${counts}`));
    let top = baseline;
    for (const outcome of OUTCOMES) {
      const count = bucket.counts[outcome] ?? 0;
      if (count === 0) continue;
      const height = Math.max(scale(count), 1);
      top -= height;
      group.append(
        svg('rect', {
          class: `bar bar-${outcome}`,
          'data-status': outcome,
          x: x.toFixed(1),
          y: top.toFixed(1),
          width: barWidth.toFixed(1),
          height: height.toFixed(1),
        }),
      );
    }
    // An empty hour still answers a hover with its (zero) counts.
    group.append(
      svg('rect', {
        class: 'hover',
        x: (PLOT.left + index * slot).toFixed(1),
        y: PLOT.top,
        width: slot.toFixed(1),
        height: plotHeight,
      }),
    );
    chart.append(group);
    if (index % labelEvery === 0 || index === buckets.length - 1) {
      chart.append(
        svg(
          'text',
          { class: 'tick', x: (x + barWidth / 2).toFixed(1), y: HEIGHT - 8, 'text-anchor': 'middle' },
          `${hourOf(bucket.start)}h`,
        ),
      );
    }
  });

  const legend = el(
    'ul',
    { class: 'legend' },
    OUTCOMES.map((outcome) =>
      el(
        'li',
        { 'data-status': outcome },
        el('span', { class: `swatch swatch-${outcome}` }),
        `${outcome} `,
        el('strong', {}, String(stats.totals[outcome] ?? 0)),
      ),
    ),
  );
  return el('figure', { class: 'chart-figure' }, chart, legend);
}
