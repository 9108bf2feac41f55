// The web console: plain JavaScript over the server's own APIs (no framework, nothing fetched
// from elsewhere). Recognise and People speak the Rekognition-compatible API (AWS JSON 1.1,
// signed with SigV4 like any AWS SDK) or the upload API's POST /v1/recognize (bearer token);
// Service reads GET /metrics and GET /v1/jobs/recent (bearer token). Credentials live in sessionStorage: this tab only.
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);

/** Creates an element: el('li', {class: 'x', onclick: f}, 'text', child). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== 'string') node[name] = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function say(selector, text) { $(selector).textContent = text || ''; }
function showError(selector, error) {
  const node = $(selector);
  node.textContent = error ? (error.message || String(error)) : '';
  node.hidden = !error;
  if (error && error.auth) askForAccess(error.message);
}

// MARK: Access

const ACCESS_KEY = 'facerec.console.access';
const access = {
  get() { try { return JSON.parse(sessionStorage.getItem(ACCESS_KEY)) || {}; } catch { return {}; } },
  set(value) { sessionStorage.setItem(ACCESS_KEY, JSON.stringify(value)); },
  clear() { sessionStorage.removeItem(ACCESS_KEY); },
};

class ApiError extends Error {
  constructor(message, details = {}) { super(message); Object.assign(this, details); }
}

let returnTo = '#recognise';
function askForAccess(reason) {
  if (location.hash !== '#access') returnTo = location.hash || '#recognise';
  const node = $('#access-reason');
  node.textContent = reason;
  node.hidden = false;
  location.hash = '#access';
}

function setUpAccess() {
  const saved = access.get();
  $('#access-token').value = saved.token || '';
  $('#access-key').value = saved.keyId || '';
  $('#access-secret').value = saved.secret || '';
  $('#access-region').value = saved.region || 'us-east-1';
  $('#access-form').addEventListener('submit', (event) => {
    event.preventDefault();
    access.set({ token: $('#access-token').value.trim(), keyId: $('#access-key').value.trim(),
      secret: $('#access-secret').value, region: $('#access-region').value.trim() || 'us-east-1' });
    $('#access-reason').hidden = true;
    say('#access-status', 'Saved for this tab.');
    loadCollections();
    location.hash = returnTo;
  });
  $('#access-forget').addEventListener('click', () => {
    access.clear();
    for (const id of ['#access-token', '#access-key', '#access-secret']) $(id).value = '';
    say('#access-status', 'Forgotten.');
  });
}

// MARK: SigV4 (the signature every AWS SDK computes)

const utf8 = new TextEncoder();
const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
const bytesOf = (data) => typeof data === 'string' ? utf8.encode(data) : new Uint8Array(data.buffer || data, data.byteOffset || 0, data.byteLength);

// Browsers give crypto.subtle to secure pages only (HTTPS, localhost). On a plain-HTTP address on
// the LAN the page signs with this FIPS 180-4 SHA-256 instead, so the console works there too
// (the secret still never leaves the tab: only signatures are sent).
const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
function portableSHA256(message) {
  const length = message.length, blocks = Math.ceil((length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const hash = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < blocks; block++) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block * 64 + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3), s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, h] = hash;
    for (let i = 0; i < 64; i++) {
      const t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      [h, g, f, e, d, c, b, a] = [g, f, e, (d + t1) >>> 0, c, b, a, (t1 + t2) >>> 0];
    }
    [a, b, c, d, e, f, g, h].forEach((value, i) => { hash[i] += value; });
  }
  const out = new DataView(new ArrayBuffer(32));
  hash.forEach((value, i) => out.setUint32(i * 4, value));
  return out.buffer;
}
function portableHMAC(key, message) {  // RFC 2104
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? new Uint8Array(portableSHA256(key)) : key);
  const pad = (byte) => block.map((b) => b ^ byte);
  const inner = new Uint8Array(portableSHA256(new Uint8Array([...pad(0x36), ...message])));
  return portableSHA256(new Uint8Array([...pad(0x5c), ...inner]));
}
const subtle = () => (window.crypto && crypto.subtle) || null;
async function sha256(data) {
  return subtle() ? subtle().digest('SHA-256', bytesOf(data)) : portableSHA256(bytesOf(data));
}
async function hmac(key, text) {
  const raw = bytesOf(key);
  if (!subtle()) return portableHMAC(raw, utf8.encode(text));
  const cryptoKey = await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return subtle().sign('HMAC', cryptoKey, utf8.encode(text));
}

const AMZ_JSON = 'application/x-amz-json-1.1';

/** The headers of a POST signed for the service `rekognition` (`target` for the JSON API). */
async function signedHeaders({ path = '/', query = '', contentType = AMZ_JSON, target, body, credentials, now = new Date() }) {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = stamp.slice(0, 8);
  const region = credentials.region || 'us-east-1';
  const headers = { 'content-type': contentType, host: location.host, 'x-amz-date': stamp };
  if (target) headers['x-amz-target'] = target;
  const names = Object.keys(headers).sort();
  const canonical = ['POST', path, query, ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), hex(await sha256(body))].join('\n');
  const scope = `${day}/${region}/rekognition/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, hex(await sha256(canonical))].join('\n');
  let key = await hmac('AWS4' + credentials.secret, day);
  for (const part of [region, 'rekognition', 'aws4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, stringToSign));
  const signed = { 'Content-Type': contentType, 'X-Amz-Date': stamp,
    Authorization: `AWS4-HMAC-SHA256 Credential=${credentials.keyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
  if (target) signed['X-Amz-Target'] = target;
  return signed;
}

// MARK: API calls

const AUTH_ERRORS = new Set(['MissingAuthenticationTokenException', 'UnrecognizedClientException',
  'InvalidSignatureException', 'IncompleteSignatureException']);
const WORDS = {
  InvalidImageFormatException: 'This file is not an image the server can read (use JPEG or PNG).',
  ImageTooLargeException: 'The image is too large.',
  MissingAuthenticationTokenException: 'The server needs an access key for collections and people.',
  UnrecognizedClientException: 'The server does not know this access key ID.',
  InvalidSignatureException: 'The server refused the secret access key (or this computer\'s clock is off).',
  IncompleteSignatureException: 'The request could not be signed; check the access key.',
  AccessDeniedException: 'This access key may not make changes.',
  ResourceNotFoundException: 'Not found.',
  ResourceAlreadyExistsException: 'It already exists.',
  ProvisionedThroughputExceededException: 'The server is busy; try again in a moment.',
  ServiceQuotaExceededException: 'A person may have at most 100 faces.',
};

function base64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Calls one Rekognition operation; throws an ApiError in words. */
function rekognition(operation, parameters) {
  return signedCall({ target: 'RekognitionService.' + operation, body: JSON.stringify(parameters) });
}

/** A POST signed like the Rekognition API's (unsigned without keys: the refusal says what is needed). */
async function signedCall({ path = '/', query = '', contentType = AMZ_JSON, target, body }) {
  const credentials = access.get();
  const signs = Boolean(credentials.keyId && credentials.secret);
  let response;
  try {
    const headers = signs ? await signedHeaders({ path, query, contentType, target, body, credentials })
      : Object.assign({ 'Content-Type': contentType }, target ? { 'X-Amz-Target': target } : {});
    response = await fetch(path + (query ? '?' + query : ''), { method: 'POST', body, headers });
  } catch (error) {
    throw new ApiError('Could not reach the server (' + error.message + ').');
  }
  const text = await response.text();
  if (!(response.headers.get('content-type') || '').startsWith(AMZ_JSON)) {
    throw new ApiError('This server does not offer collections (it needs FaceNet weights to start that API).', { unavailable: true });
  }
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const type = String(json.__type || '').split('#').pop();
    const words = WORDS[type];
    throw new ApiError(words ? `${words} ${json.message || ''}`.trim() : (json.message || `${type || 'Error'} (HTTP ${response.status})`),
      { type, status: response.status, auth: AUTH_ERRORS.has(type) ? 'keys' : undefined });
  }
  return json;
}

/** Every page of a paginated List* operation. */
async function listAll(operation, parameters, key) {
  const items = [];
  let token;
  do {
    const page = await rekognition(operation, token ? { ...parameters, NextToken: token } : parameters);
    items.push(...page[key]);
    token = page.NextToken;
  } while (token);
  return items;
}

/** The upload API's in-process recognition against the server's gallery. */
async function recogniseWithGallery(bytes, contentType) {
  const headers = { 'Content-Type': contentType || 'application/octet-stream' };
  const token = access.get().token;
  if (token) headers.Authorization = 'Bearer ' + token;
  let response;
  try {
    response = await fetch('/v1/recognize', { method: 'POST', headers, body: bytes });
  } catch (error) {
    throw new ApiError('Could not reach the server (' + error.message + ').');
  }
  const text = await response.text();
  if (response.ok) return JSON.parse(text);
  let message = text;
  try { const json = JSON.parse(text); message = (json.error && json.error.message) || json.message || text; } catch { /* plain text */ }
  if (response.status === 401) throw new ApiError('The server needs a bearer token for recognition.', { auth: 'token' });
  if (response.status === 413) throw new ApiError('The image is too large: ' + message);
  if (response.status === 415) throw new ApiError('This file is not an image the server can read: ' + message);
  throw new ApiError(message || `HTTP ${response.status}`);
}

// MARK: Similarity (docs/REKOGNITION.md: distance 1.1, the default verification threshold, is 80)

const ANCHOR_DISTANCE = 1.1, ANCHOR_SIMILARITY = 80, MAX_DISTANCE = 2;
function similarityFor(distance) {
  const d = Math.min(Math.max(distance, 0), MAX_DISTANCE);
  if (d <= ANCHOR_DISTANCE) return 100 - (100 - ANCHOR_SIMILARITY) * d / ANCHOR_DISTANCE;
  return ANCHOR_SIMILARITY * (MAX_DISTANCE - d) / (MAX_DISTANCE - ANCHOR_DISTANCE);
}
function distanceFor(similarity) {
  const s = Math.min(Math.max(similarity, 0), 100);
  if (s >= ANCHOR_SIMILARITY) return (100 - s) * ANCHOR_DISTANCE / (100 - ANCHOR_SIMILARITY);
  return MAX_DISTANCE - s * (MAX_DISTANCE - ANCHOR_DISTANCE) / ANCHOR_SIMILARITY;
}

// MARK: Images

/** Decodes a file for drawing (EXIF-rotated, as the server does); null if the browser cannot. */
async function decode(blob) {
  try { return await createImageBitmap(blob, { imageOrientation: 'from-image' }); } catch { return null; }
}

/** The face's box (ratios) with a margin, cut out and scaled so its short side is at least 160 px. */
async function cropFace(bitmap, box) {
  const w = box.Width * bitmap.width, h = box.Height * bitmap.height;
  const margin = 0.4 * Math.max(w, h);
  const x0 = Math.max(0, box.Left * bitmap.width - margin), y0 = Math.max(0, box.Top * bitmap.height - margin);
  const x1 = Math.min(bitmap.width, box.Left * bitmap.width + w + margin), y1 = Math.min(bitmap.height, box.Top * bitmap.height + h + margin);
  const scale = Math.max(1, 160 / Math.min(x1 - x0, y1 - y0));
  const canvas = el('canvas', { width: Math.round((x1 - x0) * scale), height: Math.round((y1 - y0) * scale) });
  canvas.getContext('2d').drawImage(bitmap, x0, y0, x1 - x0, y1 - y0, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  return { canvas, bytes: new Uint8Array(await blob.arrayBuffer()) };
}

/**
 * Bytes the server reads: JPEG and PNG as they are; a format this browser decodes but the server
 * does not (HEIC in Safari, WebP, AVIF, GIF, BMP) redrawn upright as PNG (every pixel kept), or
 * as JPEG past 4 megapixels (to stay under the 5 MB image limit); anything else as it is, for
 * the server to refuse in words. `converted` names the format sent when it was redrawn.
 */
async function serverReadable(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const jpeg = bytes[0] === 0xFF && bytes[1] === 0xD8 && bytes[2] === 0xFF;
  const png = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4E && bytes[3] === 0x47;
  if (jpeg || png || !bytes.length) return { bytes, converted: null };
  const bitmap = await decode(file);
  if (!bitmap) return { bytes, converted: null };
  const canvas = el('canvas', { width: bitmap.width, height: bitmap.height });
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  const type = bitmap.width * bitmap.height <= 4e6 ? 'image/png' : 'image/jpeg';
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, type, 0.92));
  return { bytes: new Uint8Array(await blob.arrayBuffer()), converted: type };
}

const round = (value, digits = 1) => (value === null || value === undefined || Number.isNaN(value)) ? '–' : value.toFixed(digits);

// MARK: Recognise

const recognition = { bitmap: null, faces: [], width: 0, height: 0 };
const threshold = () => Number($('#rec-threshold').value);

/** A face's label at the current threshold. */
function labelOf(face) {
  if (!face.name || face.similarity === null || face.similarity < threshold()) return 'Unknown';
  return face.name;
}

async function recogniseFile(file) {
  showError('#rec-error', null);
  recognition.faces = [];
  recognition.bitmap = null;
  render();
  const collection = $('#rec-source').value;
  say('#rec-status', `Looking for faces in ${file.name}…`);
  try {
    const { bytes, converted } = await serverReadable(file);
    if (!bytes.length) throw new ApiError('The file is empty.');
    if (collection) await recogniseInCollection(file, bytes, collection);
    else await recogniseInGallery(file, bytes, converted);
    const count = recognition.faces.length;
    const how = converted ? ` (sent as ${converted === 'image/png' ? 'PNG' : 'JPEG'}: the server reads JPEG and PNG)` : '';
    say('#rec-status', (count ? `${count} face${count > 1 ? 's' : ''} found in ${file.name}.` : `No face found in ${file.name}.`) + how);
  } catch (error) {
    say('#rec-status', '');
    showError('#rec-error', error);
  }
  render();
}

async function recogniseInGallery(file, bytes, converted) {
  const analysis = await recogniseWithGallery(bytes, converted || file.type);
  recognition.bitmap = await decode(file);
  recognition.width = analysis.width;
  recognition.height = analysis.height;
  recognition.faces = analysis.faces.map((face) => {
    const [x1, y1, x2, y2] = face.box;
    const distance = face.distance ?? null;
    return { box: { Left: x1 / analysis.width, Top: y1 / analysis.height, Width: (x2 - x1) / analysis.width, Height: (y2 - y1) / analysis.height },
      confidence: face.probability * 100, name: face.name === 'Unknown' ? null : face.name,
      distance, similarity: distance === null ? null : similarityFor(distance), quality: null };
  });
}

async function recogniseInCollection(file, bytes, collection) {
  const detected = await rekognition('DetectFaces', { Image: { Bytes: base64(bytes) } });
  const bitmap = await decode(file);
  if (!bitmap) throw new ApiError('This browser cannot display this image format, so its faces cannot be searched one by one; try a JPEG or PNG.');
  recognition.bitmap = bitmap;
  recognition.width = bitmap.width;
  recognition.height = bitmap.height;
  recognition.faces = detected.FaceDetails.map((detail) => ({ box: detail.BoundingBox, confidence: detail.Confidence,
    quality: detail.Quality, name: null, similarity: null, distance: null, note: 'searching…' }));
  render();
  await Promise.all(recognition.faces.map(async (face) => {
    const crop = await cropFace(bitmap, face.box);
    try {
      const answer = await rekognition('SearchFacesByImage',
        { CollectionId: collection, Image: { Bytes: base64(crop.bytes) }, MaxFaces: 1, FaceMatchThreshold: 0, QualityFilter: 'NONE' });
      const best = answer.FaceMatches[0];
      face.note = best ? '' : 'nobody in the collection';
      if (best) {
        face.name = best.Face.UserId || best.Face.ExternalImageId || best.Face.FaceId;
        face.similarity = best.Similarity;
        face.distance = distanceFor(best.Similarity);
      }
    } catch (error) {
      if (error.type !== 'InvalidParameterException') throw error;
      face.note = 'could not be searched: ' + error.message;
    }
    render();
  }));
}

function render() {
  const canvas = $('#rec-canvas');
  const { bitmap, faces } = recognition;
  $('#rec-threshold-value').textContent = `${threshold()} (distance ≤ ${distanceFor(threshold()).toFixed(2)})`;
  if (bitmap) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const g = canvas.getContext('2d');
    g.drawImage(bitmap, 0, 0);
    const line = Math.max(2, bitmap.width / 300), size = Math.max(12, Math.round(bitmap.width / 45));
    g.font = `600 ${size}px system-ui, sans-serif`;
    g.textBaseline = 'top';
    faces.forEach((face, index) => {
      const x = face.box.Left * bitmap.width, y = face.box.Top * bitmap.height;
      const w = face.box.Width * bitmap.width, h = face.box.Height * bitmap.height;
      const known = labelOf(face) !== 'Unknown';
      g.lineWidth = line;
      g.strokeStyle = known ? '#16a34a' : '#dc2626';
      g.strokeRect(x, y, w, h);
      const text = `${index + 1} ${labelOf(face)}${face.similarity === null ? '' : ' ' + round(face.similarity, 0) + '%'}`;
      const width = g.measureText(text).width + 8;
      const top = y - size - 6 >= 0 ? y - size - 6 : y + h;
      g.fillStyle = known ? '#16a34a' : '#dc2626';
      g.fillRect(x - line / 2, top, width, size + 6);
      g.fillStyle = '#fff';
      g.fillText(text, x + 4 - line / 2, top + 3);
    });
  } else {
    canvas.width = canvas.height = 0;
  }
  const table = $('#rec-faces');
  table.hidden = faces.length === 0;
  $('tbody', table).replaceChildren(...faces.map((face, index) => {
    const label = labelOf(face);
    const px = (ratio, total) => Math.round(ratio * total);
    const box = [px(face.box.Left, recognition.width), px(face.box.Top, recognition.height),
      px(face.box.Width, recognition.width), px(face.box.Height, recognition.height)];
    return el('tr', { class: label === 'Unknown' ? 'unknown' : 'known', 'data-name': label, 'data-box': box.join(',') },
      el('td', { class: 'num' }, String(index + 1)),
      el('td', {}, label, face.note ? el('span', { class: 'help' }, ` (${face.note})`) : null),
      el('td', { class: 'num' }, round(face.similarity)),
      el('td', { class: 'num' }, round(face.distance, 3)),
      el('td', { class: 'num' }, round(face.confidence)),
      el('td', { class: 'num' }, round(face.quality && face.quality.Brightness)),
      el('td', { class: 'num' }, round(face.quality && face.quality.Sharpness)),
      el('td', {}, box.join(', ')));
  }));
}

function setUpRecognise() {
  const input = $('#rec-file'), drop = $('#rec-drop');
  input.addEventListener('change', () => {
    const file = input.files[0];
    input.value = '';  // the same file may be chosen again
    if (file) recogniseFile(file);
  });
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const file = event.dataTransfer.files[0];
    if (file) recogniseFile(file);
  });
  $('#rec-threshold').addEventListener('input', render);
  render();
}

// MARK: People

const people = { collections: [], current: null, persons: [], loose: [], previews: [] };

async function loadCollections() {
  showError('#people-error', null);
  try {
    people.collections = await listAll('ListCollections', {}, 'CollectionIds');
  } catch (error) {
    people.collections = [];
    if (!error.unavailable || location.hash === '#people') showError('#people-error', error);
  }
  if (people.current && !people.collections.includes(people.current)) people.current = null;
  if (!people.current && people.collections.length) people.current = people.collections[0];
  renderCollections();
  await loadPeople();
}

function renderCollections() {
  $('#collections').replaceChildren(...people.collections.map((id) => el('li', { class: id === people.current ? 'current' : '' },
    el('button', { type: 'button', 'aria-pressed': String(id === people.current),
      onclick: () => { people.current = id; renderCollections(); loadPeople(); } }, id))));
  const source = $('#rec-source'), chosen = source.value;
  source.replaceChildren(el('option', { value: '' }, 'the server\'s gallery'),
    ...people.collections.map((id) => el('option', { value: id }, `collection ${id}`)));
  source.value = people.collections.includes(chosen) ? chosen : '';
}

async function loadPeople() {
  const id = people.current;
  say('#collection-title', id ? `People in ${id}` : 'No collection chosen');
  $('#collection-delete').disabled = !id;
  $('#enrol-form').hidden = !id;
  if (!id) { people.persons = []; people.loose = []; renderPeople(); return; }
  try {
    const [users, faces] = await Promise.all([listAll('ListUsers', { CollectionId: id }, 'Users'),
      listAll('ListFaces', { CollectionId: id, MaxResults: 4096 }, 'Faces')]);
    people.persons = users.map((user) => ({ id: user.UserId, faces: faces.filter((face) => face.UserId === user.UserId) }));
    people.loose = faces.filter((face) => !face.UserId);
  } catch (error) {
    showError('#people-error', error);
  }
  renderPeople();
}

function faceItem(face) {
  const from = face.ExternalImageId ? ` from ${face.ExternalImageId}` : '';
  return el('li', {}, `face ${face.FaceId.slice(0, 8)}${from}`,
    el('button', { type: 'button', class: 'danger', 'aria-label': `Delete face ${face.FaceId.slice(0, 8)}${from}`,
      onclick: () => act(`Deleted face ${face.FaceId.slice(0, 8)}.`, () => deleteFaces(face.UserId, [face.FaceId])) }, 'Delete face'));
}

function renderPeople() {
  const items = people.persons.map((person) => el('li', { 'data-person': person.id },
    el('strong', {}, person.id), ` · ${person.faces.length} face${person.faces.length === 1 ? '' : 's'} `,
    el('button', { type: 'button', onclick: (event) => startRename(event.target.closest('li'), person) }, 'Rename'), ' ',
    el('button', { type: 'button', class: 'danger', onclick: () => {
      if (confirm(`Delete ${person.id} and their ${person.faces.length} faces?`)) act(`Deleted ${person.id}.`, () => deletePerson(person));
    } }, 'Delete person'),
    el('ul', { class: 'faces' }, person.faces.map(faceItem))));
  if (people.loose.length) {
    items.push(el('li', {}, el('strong', {}, 'Faces without a person'), el('ul', { class: 'faces' }, people.loose.map(faceItem))));
  }
  if (!items.length && people.current) items.push(el('li', {}, 'Nobody yet: add a person below.'));
  $('#persons').replaceChildren(...items);
}

function startRename(item, person) {
  const input = el('input', { id: 'rename-input', value: person.id, required: true, pattern: '[a-zA-Z0-9_.\\-:]+', maxlength: '128' });
  const form = el('form', { class: 'row', onsubmit: (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (name !== person.id) act(`Renamed ${person.id} to ${name}.`, () => renamePerson(person, name));
  } }, el('label', { for: 'rename-input' }, `New name for ${person.id}`), input,
  el('button', { type: 'submit' }, 'Save'), el('button', { type: 'button', onclick: renderPeople }, 'Cancel'));
  item.replaceChildren(form);
  input.focus();
}

/** Runs a change, says what happened, reloads the lists. */
async function act(done, change) {
  showError('#people-error', null);
  say('#people-status', 'Working…');
  try {
    await change();
    say('#people-status', done);
  } catch (error) {
    say('#people-status', '');
    showError('#people-error', error);
  }
  await loadPeople();
}

const chunks = (items, size) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

async function deleteFaces(userId, faceIds) {
  const CollectionId = people.current;
  for (const ids of chunks(faceIds, 100)) {
    if (userId) await rekognition('DisassociateFaces', { CollectionId, UserId: userId, FaceIds: ids });
    const answer = await rekognition('DeleteFaces', { CollectionId, FaceIds: ids });
    if (answer.UnsuccessfulFaceDeletions.length) {
      throw new ApiError('Some faces were not deleted: ' + answer.UnsuccessfulFaceDeletions.map((f) => f.Reasons.join(', ')).join('; '));
    }
  }
}

async function deletePerson(person) {
  await deleteFaces(person.id, person.faces.map((face) => face.FaceId));
  await rekognition('DeleteUser', { CollectionId: people.current, UserId: person.id });
}

/** Rekognition has no rename: a new user takes over the faces, then the old one goes. */
async function renamePerson(person, name) {
  const CollectionId = people.current;
  if (people.persons.some((other) => other.id === name)) throw new ApiError(`${name} already exists.`);
  await rekognition('CreateUser', { CollectionId, UserId: name });
  for (const ids of chunks(person.faces.map((face) => face.FaceId), 100)) {
    await rekognition('DisassociateFaces', { CollectionId, UserId: person.id, FaceIds: ids });
    await rekognition('AssociateFaces', { CollectionId, UserId: name, FaceIds: ids, UserMatchThreshold: 0 });
  }
  await rekognition('DeleteUser', { CollectionId, UserId: person.id });
}

/** Shows each chosen photo's face (or why it is refused) before anything is enrolled. */
async function previewPhotos(files) {
  people.previews = Array.from(files, (file) => ({ file, status: 'checking…', bytes: null, ok: false }));
  renderPreviews();
  await Promise.all(people.previews.map(async (preview) => {
    try {
      const { bytes } = await serverReadable(preview.file);
      const faces = (await rekognition('DetectFaces', { Image: { Bytes: base64(bytes) } })).FaceDetails;
      const bitmap = await decode(preview.file);
      if (faces.length === 1 && bitmap) preview.canvas = (await cropFace(bitmap, faces[0].BoundingBox)).canvas;
      else if (bitmap) preview.canvas = (await cropFace(bitmap, { Left: 0, Top: 0, Width: 1, Height: 1 })).canvas;
      if (faces.length === 0) preview.status = 'Refused: no face found.';
      else if (faces.length > 1) preview.status = `Refused: ${faces.length} faces; use a photo of this person alone.`;
      else { preview.status = `One face (confidence ${round(faces[0].Confidence)}).`; preview.ok = true; preview.bytes = bytes; }
    } catch (error) {
      if (error.auth) { showError('#people-error', error); }
      preview.status = 'Refused: ' + error.message;
    }
    renderPreviews();
  }));
}

function renderPreviews() {
  $('#enrol-previews').replaceChildren(...people.previews.map((preview) => el('li',
    { class: preview.ok ? 'accepted' : (preview.status.startsWith('Refused') ? 'refused' : '') },
    preview.canvas ? Object.assign(preview.canvas, { role: 'img', ariaLabel: `Face in ${preview.file.name}` }) : null,
    el('div', {}, el('strong', {}, preview.file.name)), el('div', { class: 'status' }, preview.status))));
  $('#enrol-submit').disabled = !people.previews.some((preview) => preview.ok);
}

async function enrol(name) {
  const CollectionId = people.current;
  if (!people.persons.some((person) => person.id === name)) await rekognition('CreateUser', { CollectionId, UserId: name });
  const faceIds = [], problems = [];
  for (const preview of people.previews.filter((p) => p.ok)) {
    const answer = await rekognition('IndexFaces', { CollectionId, Image: { Bytes: base64(preview.bytes) },
      ExternalImageId: name, MaxFaces: 1, QualityFilter: 'NONE' });
    if (answer.FaceRecords.length) faceIds.push(answer.FaceRecords[0].Face.FaceId);
    else problems.push(`${preview.file.name}: ${answer.UnindexedFaces.flatMap((f) => f.Reasons).join(', ') || 'no face'}`);
  }
  // The person enrolling vouches that these are one person: no similarity check between them.
  if (faceIds.length) await rekognition('AssociateFaces', { CollectionId, UserId: name, FaceIds: faceIds, UserMatchThreshold: 0 });
  people.previews = [];
  renderPreviews();
  $('#enrol-files').value = '';
  if (problems.length) throw new ApiError(`Enrolled ${faceIds.length} faces; not enrolled: ${problems.join('; ')}`);
}

/** Uploads a gallery file (the course data.pt) as a new collection. */
async function importGallery(file, collectionId) {
  const answer = await signedCall({ path: '/ui/import-gallery', query: 'CollectionId=' + encodeURIComponent(collectionId),
    contentType: 'application/octet-stream', body: new Uint8Array(await file.arrayBuffer()) });
  people.current = collectionId;
  return answer;
}

function setUpPeople() {
  $('#import-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = $('#import-file').files[0], id = $('#import-name').value.trim();
    if (!file) { showError('#people-error', new ApiError('Choose the gallery file first.')); return; }
    let answer = {};
    await act('', async () => { answer = await importGallery(file, id); });
    if (answer.FaceCount !== undefined) say('#people-status', `Imported ${answer.FaceCount} faces and ${answer.UserCount} people into ${id}.`);
    await loadCollections();
  });
  $('#collection-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const id = $('#collection-name').value.trim();
    await act(`Created collection ${id}.`, async () => {
      await rekognition('CreateCollection', { CollectionId: id });
      people.current = id;
      $('#collection-name').value = '';
    });
    await loadCollections();
  });
  $('#collection-delete').addEventListener('click', async () => {
    const id = people.current;
    if (!id || !confirm(`Delete the collection ${id} with everyone in it?`)) return;
    await act(`Deleted collection ${id}.`, async () => { await rekognition('DeleteCollection', { CollectionId: id }); people.current = null; });
    await loadCollections();
  });
  $('#people-reload').addEventListener('click', loadCollections);
  $('#enrol-files').addEventListener('change', (event) => previewPhotos(event.target.files));
  $('#enrol-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('#enrol-name').value.trim();
    act(`Enrolled ${name}.`, () => enrol(name));
  });
}

// MARK: Service

const samplesSeen = [];  // /metrics over the last minute

/** Prometheus text → [{name, labels, value}]. */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || line.startsWith('#')) continue;
    const labels = {};
    for (const [, key, value] of (match[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value.replace(/\\(.)/g, '$1');
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

async function refreshService() {
  try {
    const response = await fetch('/metrics', { cache: 'no-store' });
    if (!response.ok) throw new ApiError(`The server answered HTTP ${response.status} for /metrics.`);
    const samples = parseMetrics(await response.text());
    const now = Date.now();
    samplesSeen.push({ time: now, samples });
    while (samplesSeen.length > 1 && now - samplesSeen[1].time >= 60000) samplesSeen.shift();
    renderService(samples, samplesSeen[0].samples);
    renderRecentJobs(await fetchRecentJobs());
    showError('#svc-error', null);
    say('#svc-status', `Updated ${new Date(now).toLocaleTimeString()}.`);
  } catch (error) {
    showError('#svc-error', error.message ? error : new ApiError('Could not reach the server.'));
  }
}

function renderService(samples, before) {
  const pick = (list, name) => list.filter((s) => s.name === name);
  const count = (list, name, labels) => {
    const sample = pick(list, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    return sample ? sample.value : 0;
  };
  const queues = [...new Set(pick(samples, 'facerec_queue_messages').map((s) => s.labels.queue))];
  const rows = queues.map((queue) => el('tr', { 'data-queue': queue }, el('th', { scope: 'row' }, `${queue.replace('_', ' ')} queue`),
    el('td', { class: 'num' }, String(count(samples, 'facerec_queue_messages', { queue, state: 'visible' }))),
    el('td', { class: 'num' }, String(count(samples, 'facerec_queue_messages', { queue, state: 'in_flight' })))));
  for (const [name, label] of [['facerec_workers', 'workers running'], ['facerec_requests_waiting', 'requests waiting for a result']]) {
    const sample = pick(samples, name)[0];
    if (sample) rows.push(el('tr', { 'data-metric': name }, el('th', { scope: 'row' }, label), el('td', { class: 'num' }, String(sample.value)), el('td', {}, '')));
  }
  $('#svc-queues tbody').replaceChildren(...rows);
  const delta = (name, labels) => count(samples, name, labels) - count(before, name, labels);
  const kinds = [['facerec_results_total', 'queued'], ['facerec_recognitions_total', 'recognised in process'], ['facerec_jobs_total', 'uploads waited for']];
  const jobs = kinds.flatMap(([name, kind]) => pick(samples, name).map((s) => el('tr', { 'data-outcome': `${name}:${s.labels.outcome}` },
    el('th', { scope: 'row' }, `${kind}: ${s.labels.outcome}`), el('td', { class: 'num' }, String(s.value)),
    el('td', { class: 'num' }, String(delta(name, s.labels))))));
  $('#svc-jobs tbody').replaceChildren(...(jobs.length ? jobs : [el('tr', {}, el('td', { colspan: '3' }, 'No jobs yet.'))]));
  const routes = pick(samples, 'facerec_http_requests_total').sort((a, b) => b.value - a.value);
  $('#svc-routes tbody').replaceChildren(...routes.map((s) => el('tr', {},
    el('td', {}, s.labels.route), el('td', { class: 'num' }, s.labels.status), el('td', { class: 'num' }, String(s.value)),
    el('td', { class: 'num' }, String(delta('facerec_http_requests_total', s.labels))))));
}

/** The server's newest finished jobs; null when it wants a bearer token this tab lacks. */
async function fetchRecentJobs() {
  const headers = {};
  const token = access.get().token;
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch('/v1/jobs/recent', { headers, cache: 'no-store' });
  if (response.status === 401) return null;
  if (!response.ok) throw new ApiError(`The server answered HTTP ${response.status} for /v1/jobs/recent.`);
  return (await response.json()).jobs;
}

function renderRecentJobs(jobs) {
  const note = (text) => [el('tr', {}, el('td', { colspan: '5' }, text))];
  if (jobs === null) { $('#svc-recent tbody').replaceChildren(...note('Recent jobs name people: enter the bearer token under Access to see them.')); return; }
  const rows = jobs.map((job) => el('tr', { 'data-source': job.source },
    el('td', {}, new Date(job.finishedAt).toLocaleTimeString()),
    el('td', {}, job.source === 'queue' ? 'queue' : 'recognise'),
    el('td', {}, job.key || '—'),
    el('td', {}, job.faces === undefined ? job.result : `${job.result} (${job.faces} ${job.faces === 1 ? 'face' : 'faces'})`),
    el('td', { class: job.outcome === 'ok' ? '' : 'error' }, job.error ? `${job.outcome}: ${job.error}` : job.outcome)));
  $('#svc-recent tbody').replaceChildren(...(rows.length ? rows : note('No jobs have finished since the server started.')));
}

function setUpService() {
  $('#svc-refresh').addEventListener('click', refreshService);
  setInterval(() => { if ($('#svc-auto').checked && location.hash === '#service') refreshService(); }, 5000);
}

// MARK: Navigation

function showSection() {
  const id = (location.hash || '#recognise').slice(1);
  const known = ['recognise', 'people', 'service', 'access'].includes(id) ? id : 'recognise';
  for (const section of document.querySelectorAll('main > section')) section.hidden = section.id !== known;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.hash === '#' + known) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  if (known === 'service') refreshService();
}

async function start() {
  setUpAccess();
  setUpRecognise();
  setUpPeople();
  setUpService();
  window.addEventListener('hashchange', () => { showSection(); $('main > section:not([hidden]) h2').focus(); });
  for (const heading of document.querySelectorAll('main h2')) heading.tabIndex = -1;
  showSection();
  // Ask for credentials once, up front, when the server requires them.
  const credentials = access.get();
  if (!credentials.token) {
    const probe = await fetch('/v1/results/0', { cache: 'no-store' }).catch(() => null);
    if (probe && probe.status === 401) { askForAccess('This server requires a bearer token.'); return; }
  }
  await loadCollections();
}

document.addEventListener('DOMContentLoaded', start);
