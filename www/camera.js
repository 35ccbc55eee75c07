// The camera through the browser's media APIs: opening one (the error named in words a
// person can act on) and listing the cameras for the picker. The frame loop that classifies
// what it shows is the page's (app.js).

/** Why a camera could not be opened: `title` and `detail` for the page's message. */
export class CameraError extends Error {
  constructor(title, detail) {
    super(detail);
    this.title = title;
  }
}

/**
 * Opens a camera: the one with `deviceId`, or the one `facing` ('environment' or 'user')
 * at about 640x480. Rejects with a CameraError.
 */
export async function openCamera({ deviceId, facing }) {
  const stillWorks = 'You can still classify an image: pick one or drop it on the page.';
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new CameraError('No camera access here',
      'This browser does not offer camera access on this page (it needs https). You can still classify an image file.');
  }
  const video = deviceId ? { deviceId: { exact: deviceId } } : { facingMode: facing, width: { ideal: 640 }, height: { ideal: 480 } };
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio: false });
  } catch (e) {
    const denied = e.name === 'NotAllowedError' || e.name === 'SecurityError';
    const absent = e.name === 'NotFoundError' || e.name === 'OverconstrainedError' || e.name === 'NotReadableError';
    if (denied) {
      throw new CameraError('Camera access was denied',
        `To use the live camera, allow camera access for this page in the browser and reload. ${stillWorks}`);
    }
    if (absent) throw new CameraError('No usable camera was found', `No camera is connected, or another program is using it. ${stillWorks}`);
    throw new CameraError('The camera could not be started', `${e.name}: ${e.message}. ${stillWorks}`);
  }
}

/** The cameras there are now. */
export async function cameras() {
  return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
}

/**
 * Fills the camera picker (`select`, shown when there are several) with the cameras there
 * are, `stream`'s selected; shows `flip` (front/back) where a phone's cameras face ways.
 */
export async function listCameras(select, flip, stream) {
  const all = await cameras();
  const track = stream?.getVideoTracks()[0];
  const current = track?.getSettings().deviceId;
  select.replaceChildren(...all.map((c, i) => new Option(c.label || `Camera ${i + 1}`, c.deviceId, false, c.deviceId === current)));
  select.hidden = all.length < 2;
  const facing = track?.getCapabilities?.().facingMode ?? [];
  flip.hidden = !(all.length > 1 && (facing.length > 0 || /Android|iPhone|iPad/.test(navigator.userAgent)));
}
