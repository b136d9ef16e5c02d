// The "Keyboard" tab's player: the rendered keys played with the Web Audio API, no server request per note.
//
// Runs as the `js_on_load` of a gr.HTML component (demos/keyboard_tab.py), with `element` (the component's
// root), `props` (its value: the key set's index and WAV, see hyperlib.sound_design.keyboard.write_payload) and `watch`.
// One player lives per page in `window.hyperlibKeyboard`; its `log` (key events and note starts, in
// performance.now() milliseconds) and `errors` are read by tests.
//
// Notes: each key plays the nearest rendered key, transposed (playbackRate 2^(semitones / 12)); a held key
// loops the note's steady part (loop points in the index); release fades out; velocity is (v / 127)^2, the
// curve of hyperlib.melody.velocity_gain. Inputs: pointer (mouse, touch; one note per pointer), the computer
// keyboard (two rows, Z / X octave down / up), Web MIDI where the browser offers it (note on/off, sustain
// pedal CC 64). Recording taps the output with an AudioWorklet and encodes a 16-bit WAV in the page.
//
// Touch: the strip scrolls sideways under a swipe (CSS touch-action: pan-x) and a tap plays. A touch becomes a
// note once it has stayed put for TOUCH_DECIDE_MS, or when it is lifted before that; a touch that moves sideways
// first, or that the browser takes over for scrolling (pointercancel), plays nothing.

const kb = window.hyperlibKeyboard || (window.hyperlibKeyboard = createKeyboard());
kb.mount(element);
watch("value", () => kb.load(props.value));
if (props.value) kb.load(props.value);

function createKeyboard() {
  const WHITE_CODES = ["KeyA", "KeyS", "KeyD", "KeyF", "KeyG", "KeyH", "KeyJ", "KeyK", "KeyL", "Semicolon", "Quote"];
  const BLACK_CODES = { KeyW: 1, KeyE: 3, KeyT: 6, KeyY: 8, KeyU: 10, KeyO: 13, KeyP: 15 };
  const WHITE_STEPS = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16, 17]; // semitones above C of the white-key row
  const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
  const MAX_VOICES = 32;
  const TOUCH_DECIDE_MS = 50;  // a touch held this long without moving is a note, not the start of a swipe
  const TOUCH_SLOP_PX = 8;  // sideways movement that makes a touch a swipe
  const RECORDER = `class Tap extends AudioWorkletProcessor {
    process(inputs) { const ch = inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); return true; }
  }
  registerProcessor("hyperlib-tap", Tap);`;

  const state = {
    ready: false, index: null, buffers: new Map(), voices: new Map(), pointers: new Map(), held: new Map(),
    sustained: new Set(), pedal: false, octave: 4, velocity: 100, release: 0.25, log: [], errors: [],
    touches: new Map(), audioChecked: false,
    ctx: null, master: null, recorder: null, chunks: null, recording: null, midi: "not connected",
    root: null, loadedId: null,
  };
  window.addEventListener("error", (e) => state.errors.push(String(e.message)));

  function name(midi) { return NAMES[midi % 12] + (Math.floor(midi / 12) - 1); }
  function keyLabel(code) { return { Semicolon: ";", Quote: "'" }[code] || code.replace("Key", ""); }
  function isBlack(midi) { return [1, 3, 6, 8, 10].includes(midi % 12); }
  function el(tag, attrs = {}, text = "") {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    return node;
  }

  // -- audio --------------------------------------------------------------------------------------
  function audio() {
    if (!state.ctx) {
      state.ctx = new AudioContext({ latencyHint: "interactive" });
      state.master = state.ctx.createGain();
      state.master.gain.value = 0.8;
      state.master.connect(state.ctx.destination);
      state.ctx.addEventListener("statechange", showAudioState);
    }
    if (state.ctx.state === "suspended") state.ctx.resume().catch((e) => state.errors.push(String(e)));
    return state.ctx;
  }

  // the banner shows only once keys are loaded and the browser has been asked to start the audio and did not
  function showAudioState() {
    const banner = state.root && state.root.querySelector(".hk-banner");
    if (!banner) return;
    const blocked = state.ready && state.audioChecked && (!state.ctx || state.ctx.state !== "running");
    banner.hidden = !blocked;
  }

  function checkAudio() {  // ask for the audio (allowed after the page's first gesture), judge a moment later
    audio();
    setTimeout(() => { state.audioChecked = true; showAudioState(); }, 300);
  }

  function parseWav(bytes) {  // 16-bit PCM mono WAV -> Float32Array (walks the RIFF chunks)
    const view = new DataView(bytes);
    let pos = 12;
    while (pos + 8 <= view.byteLength) {
      const id = String.fromCharCode(...new Uint8Array(bytes, pos, 4));
      const size = view.getUint32(pos + 4, true);
      if (id === "data") {
        const n = Math.floor(size / 2), out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = view.getInt16(pos + 8 + 2 * i, true) / 32768;
        return out;
      }
      pos += 8 + size + (size % 2);
    }
    throw new Error("the keys' WAV has no data chunk");
  }

  async function load(index) {
    if (!index || !index.audio || index.id === state.loadedId) return;
    Object.assign(state, { loadedId: index.id, ready: false });
    const started = performance.now();
    setStatus("Loading the keys...");
    const response = await fetch(index.audio.url);
    const samples = parseWav(await response.arrayBuffer());
    const buffers = new Map();
    for (const k of index.keys) {
      const buffer = new AudioBuffer({ length: k.length, sampleRate: index.sampleRate, numberOfChannels: 1 });
      buffer.copyToChannel(samples.subarray(k.offset, k.offset + k.length), 0);
      buffers.set(k.key, buffer);
    }
    allNotesOff();
    Object.assign(state, { index, buffers, ready: true, loadMs: performance.now() - started });
    state.octave = Math.min(Math.max(Math.floor(((index.low + index.high) / 2) / 12) - 1, 0), 8);
    drawPiano();
    setStatus(`${index.sound ? index.sound + ": " : ""}${index.keys.length} rendered keys, MIDI ${index.low}-` +
              `${index.high} (${name(index.low)}-${name(index.high)}), loaded in ${state.loadMs.toFixed(0)} ms.`);
    checkAudio();
  }

  function region(midi) {
    return state.index && state.index.keys.find((k) => k.lo <= midi && midi <= k.hi);
  }

  function noteOn(midi, velocity, source, eventTime) {
    const k = region(midi);
    const entry = { type: "on", note: midi, velocity, source, eventTime, handlerTime: performance.now(),
                    startTime: null, played: false };
    state.log.push(entry);
    if (!k) return;
    const ctx = audio();
    if (state.voices.has(midi)) stopVoice(midi, 0.02);
    if (state.voices.size >= MAX_VOICES) stopVoice(state.voices.keys().next().value, 0.02);
    const src = ctx.createBufferSource();
    src.buffer = state.buffers.get(k.key);
    src.playbackRate.value = Math.pow(2, (midi - k.key) / 12);
    src.loop = true;
    src.loopStart = k.loopStart / state.index.sampleRate;
    src.loopEnd = k.loopEnd / state.index.sampleRate;
    const gain = ctx.createGain();
    gain.gain.value = Math.pow(velocity / 127, 2);
    src.connect(gain).connect(state.master);
    src.start();
    Object.assign(entry, { startTime: performance.now(), played: true, audioTime: ctx.currentTime });
    state.voices.set(midi, { src, gain });
    keyElement(midi, (node) => node.classList.add("hk-down"));
  }

  function stopVoice(midi, release) {
    const voice = state.voices.get(midi);
    if (!voice) return;
    state.voices.delete(midi);
    const now = state.ctx.currentTime, g = voice.gain.gain;
    g.cancelScheduledValues(now);
    g.setValueAtTime(g.value, now);
    g.linearRampToValueAtTime(0, now + release);
    voice.src.stop(now + release + 0.02);
  }

  function noteOff(midi, source, eventTime) {
    state.log.push({ type: "off", note: midi, source, eventTime });
    keyElement(midi, (node) => node.classList.remove("hk-down"));
    if (state.pedal) state.sustained.add(midi);
    else stopVoice(midi, state.release);
  }

  function allNotesOff() {
    for (const midi of [...state.voices.keys()]) stopVoice(midi, 0.05);
    state.held.clear();
    state.sustained.clear();
  }

  // -- recording ------------------------------------------------------------------------------------
  async function startRecording() {
    const ctx = audio();
    if (!state.recorder) {
      const url = URL.createObjectURL(new Blob([RECORDER], { type: "text/javascript" }));
      await ctx.audioWorklet.addModule(url);
      state.recorder = new AudioWorkletNode(ctx, "hyperlib-tap", { numberOfOutputs: 0, channelCount: 1,
                                                                   channelCountMode: "explicit" });
      state.recorder.port.onmessage = (e) => { if (state.chunks) state.chunks.push(e.data); };
      state.master.connect(state.recorder);
    }
    state.chunks = [];
  }

  function stopRecording() {
    const chunks = state.chunks || [];
    state.chunks = null;
    const n = chunks.reduce((s, c) => s + c.length, 0), rate = state.ctx.sampleRate;
    const view = new DataView(new ArrayBuffer(44 + 2 * n));
    const text = (pos, s) => { for (let i = 0; i < s.length; i++) view.setUint8(pos + i, s.charCodeAt(i)); };
    text(0, "RIFF"); view.setUint32(4, 36 + 2 * n, true); text(8, "WAVE"); text(12, "fmt ");
    view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true);
    view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * n, true);
    let pos = 44;
    for (const c of chunks) for (let i = 0; i < c.length; i++, pos += 2) {
      view.setInt16(pos, Math.max(-1, Math.min(1, c[i])) * 32767, true);
    }
    if (state.recording) URL.revokeObjectURL(state.recording.url);
    state.recording = { url: URL.createObjectURL(new Blob([view], { type: "audio/wav" })), samples: n,
                        sampleRate: rate, seconds: n / rate };
    return state.recording;
  }

  // -- inputs ---------------------------------------------------------------------------------------
  // whether the tab is shown, kept by an IntersectionObserver: reading layout (offsetParent) in a key handler
  // would force a style and layout pass of the whole page before the note could start
  function visible() { return state.shown; }

  function codeToMidi(code) {
    const white = WHITE_CODES.indexOf(code);
    const step = white >= 0 ? WHITE_STEPS[white] : BLACK_CODES[code];
    return step === undefined ? null : 12 * (state.octave + 1) + step;
  }

  function onKeyDown(e) {
    if (!visible() || !state.ready || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest("input, textarea, select, [contenteditable='true']")) return;
    if (e.code === "KeyZ" || e.code === "KeyX") {
      if (!e.repeat) {
        state.octave = Math.min(Math.max(state.octave + (e.code === "KeyX" ? 1 : -1), 0), 8);
        drawLabels();
      }
      e.preventDefault();
      return;
    }
    const midi = codeToMidi(e.code);
    if (midi === null) return;
    e.preventDefault();
    if (e.repeat || state.held.has(e.code)) return;
    state.held.set(e.code, midi);
    noteOn(midi, state.velocity, "keyboard", e.timeStamp);
  }

  function onKeyUp(e) {
    if (!state.held.has(e.code)) return;
    const midi = state.held.get(e.code);
    state.held.delete(e.code);
    noteOff(midi, "keyboard", e.timeStamp);
  }

  function pointerNote(e, under = e.target) {
    const key = under && under.closest && under.closest(".hk-key");
    return key ? Number(key.dataset.midi) : null;
  }

  function onPointerDown(e) {
    const midi = pointerNote(e);
    if (midi === null) return;
    if (e.pointerType === "touch") {  // a tap or the start of a swipe: decided by touchDecided
      const touch = { midi, x: e.clientX, eventTime: e.timeStamp };
      touch.timer = setTimeout(() => touchDecided(e.pointerId), TOUCH_DECIDE_MS);
      state.touches.set(e.pointerId, touch);
      return;
    }
    e.preventDefault();
    state.pointers.set(e.pointerId, midi);
    noteOn(midi, state.velocity, "pointer", e.timeStamp);
  }

  function touchDecided(pointerId) {  // the touch stayed put: its note starts (timed from the touch itself)
    const touch = state.touches.get(pointerId);
    if (!touch) return;
    state.touches.delete(pointerId);
    clearTimeout(touch.timer);
    state.pointers.set(pointerId, touch.midi);
    noteOn(touch.midi, state.velocity, "touch", touch.eventTime);
  }

  function touchSwiped(pointerId) {  // the touch scrolls the strip: no note
    const touch = state.touches.get(pointerId);
    if (!touch) return;
    clearTimeout(touch.timer);
    state.touches.delete(pointerId);
  }

  function onPointerMove(e) {  // glide across the keys while pressed (mouse and pen; a touch scrolls instead)
    const touch = state.touches.get(e.pointerId);
    if (touch && Math.abs(e.clientX - touch.x) > TOUCH_SLOP_PX) touchSwiped(e.pointerId);
    if (!state.pointers.has(e.pointerId) || e.pointerType === "touch") return;
    // the key under the pointer (a touch stays captured by the key it started on, so e.target would not change)
    const midi = pointerNote(e, document.elementFromPoint(e.clientX, e.clientY));
    const was = state.pointers.get(e.pointerId);
    if (midi === null || midi === was) return;
    noteOff(was, "pointer", e.timeStamp);
    state.pointers.set(e.pointerId, midi);
    noteOn(midi, state.velocity, e.pointerType === "touch" ? "touch" : "pointer", e.timeStamp);
  }

  function onPointerUp(e) {
    if (e.type === "pointercancel") touchSwiped(e.pointerId);  // the browser scrolls: the touch was a swipe
    else touchDecided(e.pointerId);  // a quick tap, lifted before TOUCH_DECIDE_MS: it still plays
    if (!state.pointers.has(e.pointerId)) return;
    noteOff(state.pointers.get(e.pointerId), e.pointerType === "touch" ? "touch" : "pointer", e.timeStamp);
    state.pointers.delete(e.pointerId);
  }

  async function connectMidi() {
    if (!navigator.requestMIDIAccess) {
      state.midi = "Web MIDI is not available in this browser; use the mouse, touch or the computer keyboard.";
      drawMidi();
      return;
    }
    try {
      const access = await navigator.requestMIDIAccess();
      const attach = () => {
        const names = [];
        for (const input of access.inputs.values()) { input.onmidimessage = onMidi; names.push(input.name); }
        state.midi = names.length ? `MIDI: ${names.join(", ")}` : "MIDI allowed; no MIDI input connected.";
        drawMidi();
      };
      access.onstatechange = attach;
      attach();
    } catch (err) {
      state.midi = `MIDI was not allowed (${err.message || err}).`;
      drawMidi();
    }
  }

  function onMidi(e) {
    const [status, data1, data2] = e.data, kind = status & 0xf0;
    if (kind === 0x90 && data2 > 0) noteOn(data1, data2, "midi", e.timeStamp);
    else if (kind === 0x80 || (kind === 0x90 && data2 === 0)) noteOff(data1, "midi", e.timeStamp);
    else if (kind === 0xb0 && data1 === 64) {
      state.pedal = data2 >= 64;
      if (!state.pedal) { for (const m of state.sustained) stopVoice(m, state.release); state.sustained.clear(); }
    }
  }

  // -- page -----------------------------------------------------------------------------------------
  function setStatus(text) {
    const node = state.root && state.root.querySelector(".hk-status");
    if (node) node.textContent = text;
  }

  function keyElement(midi, fn) {
    const node = state.root && state.root.querySelector(`.hk-key[data-midi="${midi}"]`);
    if (node) fn(node);
  }

  function drawMidi() {
    const node = state.root && state.root.querySelector(".hk-midi-status");
    if (node) node.textContent = state.midi;
  }

  function showOctave() {  // scroll the strip to the computer keyboard's octave (where it is wider than the screen)
    const c = 12 * (state.octave + 1);
    const first = state.root && state.root.querySelector(`.hk-key[data-midi="${c}"]`);
    if (first) first.parentElement.scrollLeft = first.offsetLeft - 8;
  }

  function drawLabels() {  // mark the keys the computer keyboard plays at the current octave
    if (!state.root) return;
    const octave = state.root.querySelector(".hk-octave");
    const c = 12 * (state.octave + 1);
    if (octave) octave.textContent = `Computer keyboard: ${name(c)}-${name(c + 17)}`;
    showOctave();
    const codes = {};
    for (const code of [...WHITE_CODES, ...Object.keys(BLACK_CODES)]) codes[codeToMidi(code)] = keyLabel(code);
    for (const node of state.root.querySelectorAll(".hk-key")) {
      node.querySelector(".hk-hint").textContent = codes[node.dataset.midi] || "";
    }
  }

  function drawPiano() {
    const piano = state.root && state.root.querySelector(".hk-piano");
    if (!piano || !state.index) return;
    piano.replaceChildren();
    const { low, high } = state.index;
    let w = isBlack(low) ? 0.4 : 0;  // a black key at the bottom of the range keeps its whole width in view
    let whites = w + (isBlack(high) ? 0.4 : 0);
    for (let m = low; m <= high; m++) if (!isBlack(m)) whites++;
    piano.style.setProperty("--whites", whites);
    for (let m = low; m <= high; m++) {
      const black = isBlack(m);
      const key = el("div", { class: `hk-key ${black ? "hk-black" : "hk-white"}`, "data-midi": m,
                              role: "button", "aria-label": name(m) });
      key.style.setProperty("--i", black ? w - 0.3 : w);
      key.append(el("span", { class: "hk-hint" }), el("span", { class: "hk-name" }, name(m)));
      if (region(m) && region(m).key === m) key.classList.add("hk-rendered");
      piano.append(key);
      if (!black) w++;
    }
    drawLabels();
  }

  function mount(root) {
    state.root = root.querySelector(".hk-root") || root;
    state.root.replaceChildren();
    const banner = el("button", { class: "hk-banner", type: "button" },
                      "Sound is off: your browser blocks audio until you tap, click or press a key. " +
                      "Tap or click here to turn it on.");
    banner.hidden = true;
    banner.addEventListener("click", () => audio());
    const controls = el("div", { class: "hk-controls" });
    const velocity = el("input", { type: "range", min: 1, max: 127, value: state.velocity, class: "hk-velocity" });
    const velocityValue = el("output", { class: "hk-velocity-value" });
    const showVelocity = () => { velocityValue.textContent = `${state.velocity} / 127`; };
    velocity.addEventListener("input", () => { state.velocity = Number(velocity.value); showVelocity(); });
    const release = el("input", { type: "range", min: 0.02, max: 2, step: 0.01, value: state.release,
                                  class: "hk-release" });
    const releaseValue = el("output", { class: "hk-release-value" });
    const showRelease = () => { releaseValue.textContent = `${state.release.toFixed(2)} s`; };
    release.addEventListener("input", () => { state.release = Number(release.value); showRelease(); });
    showVelocity();
    showRelease();
    const down = el("button", { type: "button", class: "hk-octave-down" }, "Octave -");
    const up = el("button", { type: "button", class: "hk-octave-up" }, "Octave +");
    down.addEventListener("click", () => { state.octave = Math.max(state.octave - 1, 0); drawLabels(); });
    up.addEventListener("click", () => { state.octave = Math.min(state.octave + 1, 8); drawLabels(); });
    const record = el("button", { type: "button", class: "hk-record" }, "Record");
    const download = el("a", { class: "hk-download", hidden: "" }, "Download the recording (WAV)");
    record.addEventListener("click", async () => {
      if (state.chunks) {
        const take = stopRecording();
        record.textContent = "Record";
        record.classList.remove("hk-on");
        download.href = take.url;
        download.download = "hyperlib-keyboard.wav";
        download.textContent = `Download the recording (WAV, ${take.seconds.toFixed(1)} s)`;
        download.hidden = false;
      } else {
        await startRecording();
        record.textContent = "Stop recording";
        record.classList.add("hk-on");
      }
    });
    const midi = el("button", { type: "button", class: "hk-midi" }, "Connect MIDI");
    midi.addEventListener("click", connectMidi);
    const label = (text, input, value) => { const l = el("label", {}, text); l.append(input, value); return l; };
    controls.append(label("Velocity ", velocity, velocityValue), label("Release ", release, releaseValue), down, up,
                    record, download, midi);
    state.root.append(banner, el("div", { class: "hk-status" }, "Render the keyboard to play it."),
                      el("div", { class: "hk-octave" }), el("div", { class: "hk-piano" }),
                      controls, el("div", { class: "hk-midi-status" }, navigator.requestMIDIAccess ?
                        "A MIDI keyboard can be connected." : "Web MIDI is not available in this browser."));
    const piano = state.root.querySelector(".hk-piano");
    piano.addEventListener("pointerdown", onPointerDown);
    piano.addEventListener("pointermove", onPointerMove);
    piano.addEventListener("contextmenu", (e) => e.preventDefault());
    let width = 0;  // a narrower screen (a phone turned, a window resized) shows the octave again
    new ResizeObserver(() => { if (piano.clientWidth !== width) { width = piano.clientWidth; showOctave(); } })
      .observe(piano);
    state.shown = false;
    new IntersectionObserver((entries) => { state.shown = entries[entries.length - 1].isIntersecting; },
                             { rootMargin: "100000px" }).observe(state.root);
    if (!state.listening) {
      window.addEventListener("keydown", onKeyDown, { capture: true });
      window.addEventListener("keyup", onKeyUp, { capture: true });
      for (const type of ["pointerup", "pointercancel"]) window.addEventListener(type, onPointerUp);
      window.addEventListener("blur", () => { for (const code of [...state.held.keys()]) onKeyUp({ code }); });
      // the first gesture anywhere on the page lets the audio start (a touch counts once it is lifted)
      for (const type of ["pointerdown", "pointerup", "keydown"]) {
        window.addEventListener(type, () => visible() && audio(), { capture: true });
      }
      state.listening = true;
    }
    drawPiano();
    showAudioState();
  }

  const computerKeys = [...WHITE_CODES, ...Object.keys(BLACK_CODES)].map(keyLabel);  // as the help lists them
  Object.assign(state, { mount, load, noteOn, noteOff, allNotesOff, startRecording, stopRecording, computerKeys });
  return state;
}
