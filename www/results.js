// The result on screen: the top-5 list (each entry a button for the class whose activation
// map is drawn), the frame rate over the last few frames and the pass's time.

const $ = (id) => document.getElementById(id);
// frames the rate is taken over (slow adapters take seconds per frame)
const RATE_FRAMES = 6;

let frameTimes = [];

/** An element of `tag` with `className` and text. */
const span = (className, textContent) => Object.assign(document.createElement('span'), { className, textContent });

/**
 * Shows `top` ([{index, label, probability}]) in #top5, and beside it the frame rate, the
 * pass's milliseconds end to end (`ms`) and on the GPU (`gpuMs`, where timed).
 */
export function showTop(top, ms, gpuMs, now = performance.now()) {
  $('top5').replaceChildren(...top.map(({ index, label, probability }) => {
    const li = document.createElement('li');
    li.dataset.index = index;
    li.tabIndex = 0;
    li.title = 'Show where the network sees this class';
    li.dataset.probability = probability;
    const bar = span('bar', '');
    bar.style.setProperty('--p', probability);
    li.append(span('label', label), span('pct', `${(100 * probability).toFixed(1)}%`), bar);
    return li;
  }));
  frameTimes = frameTimes.concat(now).slice(-RATE_FRAMES);
  const seconds = (now - frameTimes[0]) / 1000;
  $('fps').textContent = frameTimes.length > 1 ? ((frameTimes.length - 1) / seconds).toFixed(1) : '–';
  $('ms').textContent = ms.toFixed(0);
  $('gpu-ms-wrap').hidden = gpuMs == null;
  if (gpuMs != null) $('gpu-ms').textContent = gpuMs.toFixed(0);
}

/** Marks the entry of class `index` as the one whose map is drawn (none for null). */
export function markMapped(index) {
  for (const li of $('top5').children) li.classList.toggle('cam-shown', Number(li.dataset.index) === index);
}

/** Empties the list and the figures. */
export function clearTop() {
  $('top5').replaceChildren();
  for (const id of ['fps', 'ms', 'gpu-ms']) $(id).textContent = '–';
}

/** The class of a top-5 entry clicked, or Enter-ed or Space-d on; null for other events. */
export function pickedClass(event) {
  const li = event.target.closest('#top5 li');
  if (!li || (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ')) return null;
  event.preventDefault();
  return Number(li.dataset.index);
}
