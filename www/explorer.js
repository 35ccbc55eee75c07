// The Inception explorer: the network drawn from its own graph description (the stem, each
// block with its branches, the head), each part's output shape, parameters and
// multiply-adds; while the panel is open, live time per part and per branch from the
// profiler (GPU timestamps, or CPU timing) and, for the selected block, the strongest
// feature maps of each branch on the current frame. A closed panel costs nothing: nothing
// is profiled or read back then.
import { featureMapTiles } from './api.js';

const MAPS_PER_BRANCH = 4; // feature maps shown per branch
// Between refreshes, so that camera frames keep flowing: at least this long, and twice as
// long as the refresh took (on SwiftShader a refresh, ~60 layers timed one by one and three
// whole passes, takes about 4 s; the camera keeps two thirds of the time).
const REFRESH_PAUSE_MS = 1000;
const TILE_PX = 56; // a feature map's side on screen (CSS pixels)
// whole passes timed per refresh, for the median the profiled layers are compared with
const PASSES_TIMED = 3;

const count = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n}`);
const shapeText = ([c, h, w]) => `${c}×${h}×${w}`;
/** An element with properties (and `dataset` entries) and children. */
function el(tag, { dataset, ...props } = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  Object.assign(e.dataset, dataset);
  e.append(...children);
  return e;
}

export class Explorer {
  #root;
  #exclusive; // runs work with the camera loop held (the page's queue)
  #classifier = null;
  #arch = null;
  #macs = null; // node -> multiply-adds (#macsOf)
  #selected = null; // the selected block's part
  #open = false;
  #timer = null;

  /** `root`: the panel's element; `exclusive(work)`: the page's queue for exclusive work. */
  constructor(root, exclusive) {
    this.#root = root;
    this.#exclusive = exclusive;
  }

  get isOpen() { return this.#open; }

  /** Opens the panel for `classifier` (or shows another's after a model change). */
  async open(classifier) {
    this.#open = true;
    this.#root.hidden = false;
    if (classifier !== this.#classifier) {
      this.#classifier = classifier;
      this.#arch = await classifier.architecture();
      this.#macs = null;
      this.#selected = null;
      this.#render();
    }
    this.#schedule(0);
  }

  close() {
    this.#open = false;
    this.#root.hidden = true;
    clearTimeout(this.#timer);
  }

  /** The classifier was replaced (or freed): an open panel follows, a closed one forgets. */
  changed(classifier) {
    if (this.#open && classifier) this.open(classifier);
    else this.#classifier = null;
  }

  select(name) {
    this.#selected = this.#arch.parts.find((p) => p.kind === 'block' && p.name === name) ?? null;
    for (const b of this.#root.querySelectorAll('.part.block')) b.setAttribute('aria-pressed', String(b.dataset.block === name));
    this.#renderDetail();
    this.#schedule(0);
  }

  #schedule(ms) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#refresh(), ms);
  }

  /** Times the parts and reads the selected block's output, then again after a pause. */
  async #refresh() {
    if (!this.#open) return;
    const classifier = this.#classifier;
    const started = performance.now();
    try {
      const measured = await this.#exclusive(async () => {
        if (classifier !== this.#classifier) return null;
        const { ms: passes, timed } = await classifier.passes(PASSES_TIMED);
        const passMs = [...passes].sort((x, y) => x - y)[PASSES_TIMED >> 1];
        const rows = await classifier.profile();
        const block = this.#selected;
        const values = block ? await classifier.activation(block.tensor) : null;
        return { passMs, passes, rows, block, values, timed };
      });
      if (measured && this.#open) this.#show(measured);
    } catch (e) {
      this.#root.querySelector('.explorer-status').textContent = `No live figures: ${e.message}`;
    }
    if (this.#open) this.#schedule(Math.max(REFRESH_PAUSE_MS, 2 * (performance.now() - started)));
  }

  #render() {
    const { parts, input } = this.#arch;
    const list = el('ol', { className: 'parts' });
    const lastBlock = parts.findLastIndex((p) => p.kind === 'block');
    let group = null; // consecutive layers outside blocks
    for (const [i, part] of parts.entries()) {
      if (part.kind === 'layer') {
        if (!group) {
          const name = list.children.length === 0 ? 'Stem' : i > lastBlock ? 'Head' : '';
          group = el('li', { className: 'part layers' }, el('span', { className: 'part-name', textContent: name }));
          list.append(group);
        }
        group.append(el('div', { className: 'layer', title: `${count(part.params)} parameters` },
          el('span', { className: 'layer-name', textContent: part.name }), el('span', { className: 'op', textContent: part.op }),
          el('span', { className: 'shape', textContent: shapeText(part.shape) }),
          el('span', { className: 'ms', dataset: { nodes: String(part.node) } })));
        continue;
      }
      group = null;
      const button = el('button', { type: 'button', className: 'part block' },
        el('span', { className: 'part-name', textContent: part.name }),
        el('span', { className: 'shape', textContent: shapeText(part.shape) }),
        el('span', { className: 'fine', textContent: `${part.branches.length} branches · ${count(part.params)} params · ${count(part.multiplyAdds)} MACs` }),
        el('span', { className: 'ms', dataset: { nodes: part.nodes.join(' ') } }));
      button.dataset.block = part.name;
      button.setAttribute('aria-pressed', 'false');
      button.addEventListener('click', () => this.select(part.name));
      list.append(el('li', {}, button));
    }
    const total = parts.reduce((s, p) => s + p.multiplyAdds, 0);
    this.#root.replaceChildren(
      el('h2', { textContent: 'Inside the network' }),
      el('p', { className: 'fine', textContent: `Input ${shapeText(input)} · ${count(parts.reduce((s, p) => s + p.params, 0))} parameters · ${count(total)} multiply-adds per image. Pick a block to see its branches and what they compute on this frame.` }),
      el('p', { className: 'explorer-status fine', textContent: 'Timing…' }),
      list,
      el('div', { className: 'detail' }));
  }

  #renderDetail() {
    const detail = this.#root.querySelector('.detail');
    const block = this.#selected;
    if (!block) return detail.replaceChildren();
    const branches = block.branches.map((b, i) => {
      const canvas = el('canvas', { className: 'maps', width: MAPS_PER_BRANCH * b.shape[2], height: b.shape[1] });
      canvas.style.width = `${MAPS_PER_BRANCH * TILE_PX}px`;
      canvas.style.height = `${TILE_PX * b.shape[1] / b.shape[2]}px`;
      const card = el('div', { className: 'branch' },
        el('h3', { textContent: `Branch ${i + 1}` }, el('span', { className: 'shape', textContent: ` → ${shapeText(b.shape)}` })),
        el('ol', { className: 'branch-layers' }, ...b.layers.map((l) => el('li', {},
          el('span', { className: 'layer-name', textContent: l.name }), el('span', { className: 'op', textContent: l.op }),
          el('span', { className: 'shape', textContent: shapeText(l.shape) }), el('span', { className: 'fine', textContent: `${count(l.multiplyAdds)} MACs` })))),
        el('p', { className: 'fine', textContent: `${count(b.params)} params · ${count(b.multiplyAdds)} MACs · ` },
          el('span', { className: 'ms', dataset: { nodes: b.layers.map((l) => l.node).join(' ') } })),
        canvas);
      Object.assign(card.dataset, { shape: b.shape.join('x'), multiplyAdds: b.multiplyAdds, channels: `${b.firstChannel}+${b.shape[0]}` });
      return card;
    });
    detail.replaceChildren(
      el('h3', { textContent: `${block.name}: ${shapeText(block.shape)}, the strongest ${MAPS_PER_BRANCH} feature maps of each branch` }),
      el('div', { className: 'branches' }, ...branches));
    detail.dataset.block = block.name;
  }

  /** Live figures: each layer's share of the profiled time, summed per part and branch. */
  #show({ passMs, passes, rows, block, values, timed }) {
    const nodeMs = new Map();
    let outside = 0; // preprocessing, top-5, activation maps: no graph node
    for (const row of rows) {
      if (!row.nodes.length) { outside += row.ms; continue; }
      // merged siblings: the time split by their multiply-adds
      const macs = row.nodes.map((n) => this.#macsOf(n));
      const all = macs.reduce((s, m) => s + m, 0);
      row.nodes.forEach((n, i) => nodeMs.set(n, row.ms * (all ? macs[i] / all : 1 / row.nodes.length)));
    }
    for (const span of this.#root.querySelectorAll('.ms[data-nodes]')) {
      const ms = span.dataset.nodes.split(' ').reduce((s, n) => s + (nodeMs.get(Number(n)) ?? 0), 0);
      span.textContent = `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
    }
    const partsMs = [...nodeMs.values()].reduce((s, m) => s + m, 0) + outside;
    Object.assign(this.#root.dataset, { partsMs: partsMs.toFixed(3), passMs: passMs.toFixed(3), passesMs: passes.map((p) => p.toFixed(3)).join(',') });
    this.#root.querySelector('.explorer-status').textContent =
      `Layers profiled one by one (${timed}): ${partsMs.toFixed(1)} ms in all, of which ${outside.toFixed(1)} ms before and after the network; a whole pass took ${passMs.toFixed(1)} ms (median of ${passes.map((p) => p.toFixed(0)).join(', ')}).`;
    if (block && values && block === this.#selected) this.#drawMaps(block, values);
  }

  #macsOf(node) {
    if (!this.#macs) {
      // every layer's multiply-adds by node, from the architecture (made once per network)
      const layers = this.#arch.parts.flatMap((p) => (p.kind === 'layer' ? [p] : p.branches.flatMap((b) => b.layers)));
      this.#macs = new Map(layers.map((l) => [l.node, l.multiplyAdds]));
    }
    return this.#macs.get(node) ?? 0;
  }

  #drawMaps(block, values) {
    const [c, h, w] = block.shape;
    const ranges = new Uint32Array(block.branches.flatMap((b) => [b.firstChannel, b.shape[0]]));
    const atlas = featureMapTiles(values, c, h, w, ranges, MAPS_PER_BRANCH);
    const image = new ImageData(atlas, MAPS_PER_BRANCH * w, h * block.branches.length);
    const canvases = this.#root.querySelectorAll('.detail canvas.maps');
    canvases.forEach((canvas, i) => {
      canvas.getContext('2d').putImageData(image, 0, -i * h, 0, i * h, MAPS_PER_BRANCH * w, h);
      canvas.dataset.drawn = '1';
    });
  }
}
