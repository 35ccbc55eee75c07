// What the page tells the user: the loading status over the stage (with a progress bar),
// and message cards (#messages), one per kind of failure or notice, which tests find by kind.

const $ = (id) => document.getElementById(id);

/** The status over the stage ("Downloading…"), with a progress bar at `progress` (0..1); null hides it. */
export function setStatus(text, progress) {
  $('overlay').hidden = text == null;
  $('status').textContent = text ?? '';
  const bar = $('progress');
  bar.hidden = progress == null;
  if (progress != null) bar.value = progress;
}

/**
 * Shows a message card, replacing any of the same `kind` (which names the failure for
 * styling and tests); `action` ({label, run}) adds a button. Returns the card.
 */
export function showMessage(kind, title, detail, action) {
  clearMessage(kind);
  const card = document.createElement('div');
  card.className = 'message';
  card.dataset.kind = kind;
  card.setAttribute('role', 'alert');
  const h = document.createElement('strong');
  h.textContent = title;
  const p = document.createElement('p');
  p.textContent = detail;
  card.append(h, p);
  if (action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = action.label;
    b.onclick = action.run;
    card.append(b);
  }
  $('messages').append(card);
  return card;
}

export function clearMessage(kind) {
  document.querySelector(`#messages [data-kind="${kind}"]`)?.remove();
}
