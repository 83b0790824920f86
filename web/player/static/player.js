// The player page: plays the HTTP-FLV URL given as ?url= with mpegts.js and
// shows what the player sees, twice a second. The same figures are in
// window.playerStats, so that tests read what the user reads.
'use strict';

const params = new URLSearchParams(location.search);
const video = document.getElementById('video');

// Every figure the page shows; null where nothing is known (yet).
const stats = {
  url: null, // what is played, with the track filter
  live: null, // true for a live stream, false for a file
  state: 'idle', // idle, loading, playing, waiting, paused, ended, failed
  latency: null, // live: seconds between playback and the live edge
  buffer: null, // seconds buffered ahead of playback
  bitrateKbps: null, // download rate, as mpegts.js measures it
  width: 0,
  height: 0,
  hasVideo: null, // the tracks the stream announces
  hasAudio: null,
  videoCodec: null,
  audioCodec: null,
  fps: null,
  decodedFrames: 0,
  droppedFrames: 0,
  audioDecodedBytes: null, // null where the browser does not count them
  currentTime: 0,
  duration: null,
  playbackRate: 1,
  stalls: 0, // times playback waited for data after it had started
  errors: [], // {time, type, detail}, as they came
};
window.playerStats = stats;

let mediaInfo = null; // mpegts.js MEDIA_INFO: codecs, tracks, frame rate
let downloadKBps = null; // mpegts.js STATISTICS_INFO speed, KiB/s
let started = false; // playback has begun: later waits are stalls
// The newest media time received, and when it last grew: while nothing
// arrives, the live edge moves on without us.
let received = { end: null, at: 0 };

function addError(type, detail) {
  const e = { time: new Date().toISOString(), type, detail };
  stats.errors.push(e);
  const item = document.createElement('li');
  item.textContent = `${e.time.slice(11, 23)} ${type}: ${detail}`;
  document.getElementById('errors').append(item);
  document.getElementById('no-errors').hidden = true;
}

// fillForm shows what is played, so that a change starts from it.
function fillForm() {
  const f = document.getElementById('open').elements;
  f.url.value = params.get('url') ?? '';
  f.only_audio.checked = params.get('only_audio') === '1';
  f.only_video.checked = params.get('only_video') === '1';
  f.live.value = params.get('live') ?? '';
  // The server refuses both filters at once.
  f.only_audio.addEventListener('change', () => { if (f.only_audio.checked) f.only_video.checked = false; });
  f.only_video.addEventListener('change', () => { if (f.only_video.checked) f.only_audio.checked = false; });
}

// isLive says whether url is a live stream: as ?live= says, or else as the
// server's answer to HEAD does: a file has a length, a live stream has none.
async function isLive(url) {
  const choice = params.get('live');
  if (choice === '1' || choice === '0') return choice === '1';
  try {
    const res = await fetch(url, { method: 'HEAD' });
    return !res.ok || !res.headers.has('Content-Length');
  } catch {
    return true; // no answer to HEAD: the player tries and reports what it finds
  }
}

async function play() {
  const given = params.get('url');
  if (!given) return;
  if (!window.mpegts) {
    stats.state = 'failed';
    addError('page', `mpegts.js did not load from ${document.body.dataset.mpegtsSrc}`);
    return;
  }
  if (!mpegts.isSupported()) {
    stats.state = 'failed';
    addError('page', 'this browser cannot play FLV: it lacks Media Source Extensions or streaming fetch');
    return;
  }
  const url = new URL(given, location.href);
  const onlyAudio = params.get('only_audio') === '1';
  const onlyVideo = params.get('only_video') === '1';
  stats.state = 'loading';
  stats.live = await isLive(url);
  const source = { type: 'flv', isLive: stats.live };
  if (stats.live) {
    // The server leaves the other track out and announces only what it
    // sends in the FLV header, from which the player learns the tracks.
    if (onlyAudio) url.searchParams.set('only_audio', '1');
    if (onlyVideo) url.searchParams.set('only_video', '1');
  } else {
    // A file comes whole: the player leaves the other track out.
    if (onlyAudio) source.hasVideo = false;
    if (onlyVideo) source.hasAudio = false;
  }
  source.url = stats.url = url.href;

  // liveSync plays faster (up to 1.2x) while playback is more than 1.2 s
  // behind the newest data, as a viewer's player should.
  const player = mpegts.createPlayer(source, { liveSync: stats.live });
  player.on(mpegts.Events.ERROR, (type, detail, info) => {
    stats.state = 'failed';
    addError(type, info?.msg ? `${detail}: ${info.msg}` : detail);
  });
  player.on(mpegts.Events.MEDIA_INFO, (info) => { mediaInfo = info; });
  player.on(mpegts.Events.STATISTICS_INFO, (info) => { downloadKBps = info.speed; });
  video.addEventListener('playing', () => { started = true; stats.state = 'playing'; });
  video.addEventListener('waiting', () => {
    stats.state = 'waiting';
    if (started) stats.stalls++;
  });
  video.addEventListener('pause', () => { stats.state = 'paused'; });
  video.addEventListener('ended', () => { stats.state = 'ended'; });
  video.addEventListener('error', () => {
    stats.state = 'failed';
    addError('MediaError', `${video.error.code}: ${video.error.message}`);
  });
  player.attachMediaElement(video);
  player.load();
  // Muted, so that browsers allow it without a click.
  Promise.resolve(player.play()).catch((e) => addError('MediaError', `play: ${e.message}`));
}

// measure reads the figures from the media element and mpegts.js.
function measure() {
  const now = performance.now();
  const ranges = video.buffered;
  const end = ranges.length ? ranges.end(ranges.length - 1) : null;
  if (end !== received.end) received = { end, at: now };
  stats.buffer = end === null ? null : Math.max(0, end - video.currentTime);
  if (stats.live && end !== null) {
    // The newest data received is the live edge while it keeps coming.
    // After a second without any, the edge is that much further on.
    const starved = now - received.at > 1000 ? (now - received.at) / 1000 : 0;
    stats.latency = stats.buffer + starved;
  }
  stats.bitrateKbps = downloadKBps === null ? null : downloadKBps * 8.192; // KiB/s to kbit/s
  stats.width = video.videoWidth;
  stats.height = video.videoHeight;
  if (mediaInfo) {
    stats.hasVideo = Boolean(mediaInfo.hasVideo);
    stats.hasAudio = Boolean(mediaInfo.hasAudio);
    stats.videoCodec = mediaInfo.videoCodec ?? null;
    stats.audioCodec = mediaInfo.audioCodec ?? null;
    stats.fps = mediaInfo.fps || null;
  }
  const quality = video.getVideoPlaybackQuality();
  stats.decodedFrames = quality.totalVideoFrames;
  stats.droppedFrames = quality.droppedVideoFrames;
  stats.audioDecodedBytes = video.webkitAudioDecodedByteCount ?? null;
  stats.currentTime = video.currentTime;
  stats.duration = Number.isFinite(video.duration) ? video.duration : null;
  stats.playbackRate = video.playbackRate;
}

const seconds = (s) => (s === null ? '—' : `${s.toFixed(2)} s`);

// How each figure of the table reads.
const show = {
  url: () => stats.url ?? 'none: give an HTTP-FLV URL above',
  state: () => {
    let s = stats.state;
    if (stats.live !== null) s += stats.live ? ', live' : ', file';
    if (stats.playbackRate !== 1) s += `, at ${stats.playbackRate}× to catch up`;
    return s;
  },
  latency: () => (stats.live === false ? 'a file has none' : seconds(stats.latency)),
  buffer: () => seconds(stats.buffer),
  bitrate: () => (stats.bitrateKbps === null ? '—' : `${Math.round(stats.bitrateKbps)} kbit/s`),
  resolution: () => {
    if (stats.width) return `${stats.width}×${stats.height}`;
    return stats.hasVideo === false ? 'no video' : '—';
  },
  codecs: () => [stats.videoCodec, stats.audioCodec].filter(Boolean).join(', ') || '—',
  fps: () => (stats.fps === null ? '—' : `${stats.fps.toFixed(2)} /s`),
  decodedFrames: () => String(stats.decodedFrames),
  droppedFrames: () => String(stats.droppedFrames),
  audioDecoded: () => {
    if (stats.audioDecodedBytes === null) return 'not counted by this browser';
    return `${Math.round(stats.audioDecodedBytes / 1024)} KiB`;
  },
  position: () => seconds(stats.currentTime) + (stats.duration ? ` of ${seconds(stats.duration)}` : ''),
  stalls: () => String(stats.stalls),
};

function refresh() {
  measure();
  for (const cell of document.querySelectorAll('[data-figure]')) {
    cell.textContent = show[cell.dataset.figure]();
  }
}

function cell(content) {
  const td = document.createElement('td');
  td.append(content);
  return td;
}

// listStreams shows the server's streams (GET /api/streams), each a link
// that plays it here.
async function listStreams() {
  const note = document.getElementById('streams-note');
  try {
    const res = await fetch('/api/streams', { cache: 'no-store' });
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    const list = await res.json();
    const rows = list.map((s) => {
      const link = document.createElement('a');
      link.href = `/player?url=${encodeURIComponent(s.path)}`;
      link.textContent = `${s.app}/${s.stream}`;
      const tr = document.createElement('tr');
      tr.append(
        cell(link),
        cell(s.live ? 'live' : 'waiting for its source'),
        cell([s.video_codec, s.audio_codec].filter(Boolean).join(', ') || '—'),
        cell(s.width ? `${s.width}×${s.height}` : '—'),
      );
      return tr;
    });
    document.getElementById('stream-rows').replaceChildren(...rows);
    note.textContent = list.length ? '' : 'No streams now.';
  } catch (e) {
    note.textContent = `The list could not be read: ${e.message}`;
  }
}

fillForm();
document.getElementById('library').textContent = window.mpegts
  ? `mpegts.js ${mpegts.version}, from ${document.body.dataset.mpegtsSrc}`
  : `mpegts.js could not be loaded from ${document.body.dataset.mpegtsSrc}`;
if (document.body.dataset.streamList === 'true') {
  document.getElementById('streams').hidden = false;
  listStreams();
  setInterval(listStreams, 5000);
}
refresh();
setInterval(refresh, 500);
play();
