// The livedigits page: a drawing pad, an upload field and the answer. Plain JavaScript, nothing loaded
// from elsewhere (users may be offline). The reading itself is done by the server's /api/recognize.
"use strict";

(() => {
  const LINE_WIDTH = 16 / 400; // stroke width as a share of the pad's width: 16 px on a 400 px pad
  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d");
  const result = document.getElementById("result");
  const statusLine = document.getElementById("status");
  const textOut = document.getElementById("text");
  const annotated = document.getElementById("annotated");
  const digitList = document.getElementById("digits");
  const fileInput = document.getElementById("file");
  const drop = document.getElementById("drop");
  const maxBytes = Number(result.dataset.maxBytes);

  // -- drawing -------------------------------------------------------------------------------------
  // Strokes are kept as lists of points in fractions of the pad's size, so that undo, and a resize
  // (a phone turned sideways), can redraw everything from scratch at the new size.
  const strokes = [];
  let current = null; // {id, points} of the stroke being drawn, by one pointer only

  function fitPad() {
    // The backing store in device pixels, so that strokes stay sharp on high-density screens.
    const pixels = Math.max(1, Math.round(pad.clientWidth * (window.devicePixelRatio || 1)));
    if (pad.width !== pixels || pad.height !== pixels) {
      pad.width = pixels;
      pad.height = pixels;
    }
    redraw();
  }

  function pen() {
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = LINE_WIDTH * pad.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  function redraw() {
    ctx.fillStyle = "#fff"; // an opaque white page: the PNG sent has no transparency to interpret
    ctx.fillRect(0, 0, pad.width, pad.height);
    for (const points of strokes) drawStroke(points);
  }

  function drawStroke(points) {
    pen();
    const size = pad.width;
    if (points.length === 1) { // a tap: a dot
      ctx.beginPath();
      ctx.arc(points[0][0] * size, points[0][1] * size, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(points[0][0] * size, points[0][1] * size);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x * size, y * size);
    ctx.stroke();
  }

  function drawSegment(from, to) {
    pen();
    ctx.beginPath();
    ctx.moveTo(from[0] * pad.width, from[1] * pad.height);
    ctx.lineTo(to[0] * pad.width, to[1] * pad.height);
    ctx.stroke();
  }

  function padPoint(event) {
    // relative to the drawing surface, inside the pad's border
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left - pad.clientLeft) / pad.clientWidth,
      (event.clientY - box.top - pad.clientTop) / pad.clientHeight];
  }

  // Pointer events cover mouse, pen and touch alike.
  pad.addEventListener("pointerdown", (event) => {
    if (current || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    try {
      pad.setPointerCapture(event.pointerId); // keep the stroke when the pointer leaves the pad
    } catch (err) { /* a pointer that is already gone: nothing to capture */ }
    current = { id: event.pointerId, points: [padPoint(event)] };
    strokes.push(current.points);
    drawStroke(current.points);
  });

  pad.addEventListener("pointermove", (event) => {
    if (!current || event.pointerId !== current.id) return;
    event.preventDefault();
    // Fast strokes deliver several positions per event; use them all for smooth curves.
    const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const each of coalesced.length ? coalesced : [event]) {
      const point = padPoint(each);
      drawSegment(current.points[current.points.length - 1], point);
      current.points.push(point);
    }
  });

  const endStroke = (event) => {
    if (current && event.pointerId === current.id) current = null;
  };
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  function undo() {
    if (current) return;
    strokes.pop();
    redraw();
  }

  function clear() {
    current = null;
    strokes.length = 0;
    redraw();
  }

  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("clear").addEventListener("click", clear);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && event.target === document.body) {
      event.preventDefault();
      undo();
    }
  });
  // Refit when the pad's size on screen changes (layout, a phone turned) or the pixel density does (zoom).
  if (window.ResizeObserver) new ResizeObserver(fitPad).observe(pad);
  window.addEventListener("resize", fitPad);
  fitPad();

  document.getElementById("read").addEventListener("click", () => {
    if (strokes.length === 0) {
      fail("The canvas is empty: draw a digit first.");
      return;
    }
    send({
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ image: pad.toDataURL("image/png") }),
    });
  });

  // -- upload --------------------------------------------------------------------------------------
  function upload(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) {
      fail(`${file.name} is not a picture.`);
      return;
    }
    if (file.size > maxBytes) {
      fail(`${file.name} is larger than ${Math.round(maxBytes / 1048576)} MB.`);
      return;
    }
    const form = new FormData();
    form.append("image", file);
    send({ body: form });
  }

  fileInput.addEventListener("change", () => {
    upload(fileInput.files[0]);
    fileInput.value = ""; // choosing the same file again is a new upload
  });

  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload(event.dataTransfer.files[0]);
  });
  // A picture dropped beside the zone must not make the browser leave the page to show it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  // -- the answer ----------------------------------------------------------------------------------
  let latest = 0; // only the answer to the newest request is shown

  async function send(options) {
    const ticket = ++latest;
    setState("busy", "Reading\u2026");
    let response;
    let data = null;
    try {
      response = await fetch("api/recognize", { method: "POST", ...options });
      data = await response.json().catch(() => null);
    } catch (err) {
      if (ticket === latest) fail(`Cannot reach the server (${err.message}).`);
      return;
    }
    if (ticket !== latest) return;
    if (!response.ok || !data || data.error) {
      fail((data && data.error) || `The server answered ${response.status}.`);
      return;
    }
    show(data);
  }

  function setState(state, message) {
    result.dataset.state = state;
    statusLine.textContent = message;
  }

  function fail(message) {
    // the previous answer no longer matches what was last drawn or sent
    textOut.textContent = "";
    annotated.hidden = true;
    annotated.removeAttribute("src");
    digitList.replaceChildren();
    setState("error", message);
  }

  function level(p) { // the same colours as the boxes on the annotated picture
    return p >= 0.9 ? "sure" : p >= 0.7 ? "unsure" : "doubtful";
  }

  function percent(p) {
    return `${(100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 0 : 1)}%`;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // never innerHTML: answers are data, not markup
    return node;
  }

  function show(data) {
    textOut.textContent = data.text;
    annotated.src = data.image;
    annotated.hidden = false;
    const lines = new Set(data.digits.map((d) => d.line)).size;
    digitList.replaceChildren(...data.digits.map((d) => digitCard(d, lines > 1)));
    const count = data.digits.length;
    setState("done", count === 0 ? "No digits found."
      : `${count} digit${count === 1 ? "" : "s"} read in ${data.width}\u00d7${data.height} pixels.`);
    result.dataset.answers = String(Number(result.dataset.answers) + 1);
    if (window.matchMedia("(max-width: 899px)").matches) {
      result.scrollIntoView({ behavior: "smooth", block: "start" }); // on a phone the answer is below
    }
  }

  function digitCard(d, showLine) {
    const card = element("li", `digit ${level(d.confidence)}`);
    const head = element("div", "head");
    head.append(element("span", "value", String(d.digit)),
      element("span", "confidence", `${percent(d.confidence)} sure${showLine ? `, line ${d.line + 1}` : ""}`));
    const bars = element("div", "bars");
    d.top3.forEach(({ digit, probability }, rank) => {
      const row = element("div", "row");
      const bar = element("div", "bar");
      const fill = element("div", `fill ${rank === 0 ? level(probability) : "other"}`);
      fill.style.width = `${Math.max(0, Math.min(1, probability)) * 100}%`;
      bar.append(fill);
      row.append(element("span", "label", String(digit)), bar, element("span", "p", percent(probability)));
      bars.append(row);
    });
    card.append(head, bars);
    return card;
  }
})();
