// The flow demo of section 04: one canvas per demo state, drawn from POST /api/demos/evaluate.
// The picture shows the model density as a heat map, the images of the latent grid lines and
// samples; at the pointer (or the keyboard probe) it shows the two terms of the change of
// variables and their sum. The learner predicts before the caption states the answer.

const MARK = [1, 1];
const SIZE = 320;
const UNCHANGED = 0.01; // nats
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

const fmt = (v) => (v === null || v === undefined ? "—" : v.toFixed(3));

async function evaluate(body, signal) {
  const response = await fetch("/api/demos/evaluate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      message = (await response.json()).error?.message ?? message;
    } catch {
      /* keep the status */
    }
    throw new Error(message);
  }
  return response.json();
}

function colour(t) {
  const x = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - i;
  return STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
}

// "layers[0].A[0][0]" -> ["layers", 0, "A", 0, 0], as server/demos/controls.py reads it.
function parsePath(path) {
  const steps = [];
  for (const [, key, index] of path.matchAll(/\.?([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]/g)) {
    steps.push(key ?? Number(index));
  }
  return steps;
}

function setAt(target, steps, value) {
  let node = target;
  for (const step of steps.slice(0, -1)) node = node[step];
  node[steps[steps.length - 1]] = value;
}

const trim = (v) => Number(v).toFixed(4).replace(/\.?0+$/, "");

function element(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  Object.assign(el, props);
  el.append(...children);
  return el;
}

class FlowDemo {
  constructor(figure, index) {
    this.figure = figure;
    this.id = `demo-${index}`;
    this.spec = JSON.parse(figure.dataset.spec);
    this.controls = JSON.parse(figure.dataset.controls || "[]");
    this.layerCount = Array.isArray(this.spec.layers) ? this.spec.layers.length : 1;
    this.state = null;
    this.probe = null;
    this.committed = false;
    this.timer = null;
    this.inflight = null;
    this.build();
    this.showBase();
  }

  build() {
    const f = this.figure;
    this.caption = f.querySelector(".demo-caption");
    if (this.caption) this.caption.hidden = true;
    // The static list of bindings (for a page without script) gives way to live controls.
    const listed = f.querySelector(".demo-bindings");
    if (listed) listed.hidden = true;
    this.canvas = element("canvas", {
      width: SIZE, height: SIZE, tabIndex: 0, className: "demo-canvas",
    });
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute(
      "aria-label",
      "Model density heat map with warped grid lines and samples; arrow keys move the probe",
    );
    this.readout = element("output", { className: "demo-terms" });
    this.readout.setAttribute("aria-live", "polite");
    this.status = element("p", { className: "demo-status" });
    this.status.setAttribute("role", "status");

    // Prediction first.
    const question = element(
      "legend", {},
      `Predict: when the flow is applied, what happens to the density at the marked point (${MARK[0]}, ${MARK[1]})?`,
    );
    this.predictBox = element("fieldset", { className: "demo-predict" }, question);
    for (const [value, text] of [["up", "it goes up"], ["down", "it goes down"], ["unchanged", "it stays the same"]]) {
      const input = element("input", { type: "radio", name: `${this.id}-prediction`, value });
      input.addEventListener("change", () => { this.commitButton.disabled = false; });
      this.predictBox.append(element("label", { className: "choice" }, input, ` ${text}`));
    }
    this.commitButton = element("button", { type: "button", disabled: true }, "Commit prediction and show");
    this.commitButton.addEventListener("click", () => this.commit());
    this.result = element("p", { className: "demo-result" });
    this.result.setAttribute("role", "status");
    this.predictBox.append(element("p", {}, this.commitButton), this.result);

    // Controls: each one sets the spec's numbers at its paths (times its factors).
    this.controlBox = element("fieldset", { className: "demo-controls", disabled: true },
      element("legend", {}, "Controls"));
    this.inputs = [];
    this.layersInput = this.slider(`${this.id}-layers`, { label: "layers applied",
      value: this.layerCount, min: 0, max: this.layerCount, step: 1 });
    for (const control of this.controls) {
      const input = this.slider(`${this.id}-${control.name}`, control);
      const places = control.paths.map((path, i) => [parsePath(path), control.factors?.[i] ?? 1]);
      this.inputs.push({ input, places });
    }
    f.append(this.canvas, this.readout, this.status, this.predictBox, this.controlBox);
    if (this.caption) f.append(this.caption);

    this.canvas.addEventListener("pointermove", (e) => {
      const rect = this.canvas.getBoundingClientRect();
      this.setProbe(((e.clientX - rect.left) / rect.width) * SIZE,
        ((e.clientY - rect.top) / rect.height) * SIZE);
    });
    this.canvas.addEventListener("keydown", (e) => this.key(e));
  }

  // A labelled range slider and a number input that follow each other; either one moves the
  // control, and the number input (not snapped to the step) holds the value that is applied.
  slider(id, { label, value, min, max, step, meaning, paths }) {
    const range = element("input", { type: "range", id, min, max, step });
    range.value = String(value);
    const number = element("input", { type: "number", id: `${id}-value`, min, max, step: "any",
      className: "value" });
    number.value = trim(value);
    number.setAttribute("aria-label", `${label} (value)`);
    let current = Number(value); // the authored default stays exact until the learner moves it
    range.addEventListener("input", () => {
      current = Number(range.value);
      number.value = trim(current);
      number.removeAttribute("aria-invalid");
      this.schedule();
    });
    number.addEventListener("input", () => {
      const v = Number(number.value);
      if (number.value === "" || !Number.isFinite(v) || v < min || v > max) {
        number.setAttribute("aria-invalid", "true");
        return;
      }
      number.removeAttribute("aria-invalid");
      current = v;
      range.value = String(v);
      this.schedule();
    });
    const row = element("p", { className: "control" },
      element("label", { htmlFor: id }, label), " ", range, " ", number);
    if (paths) {
      const hint = element("span", { className: "control-meaning", id: `${id}-meaning` },
        ` ${meaning ? `${meaning}; ` : ""}moves ${paths.join(", ")} (${trim(min)} to ${trim(max)})`);
      range.setAttribute("aria-describedby", hint.id);
      row.append(hint);
    }
    this.controlBox.append(row);
    return { range, number, value: () => current };
  }

  currentSpec() {
    const spec = structuredClone(this.spec);
    for (const { input, places } of this.inputs) {
      for (const [steps, factor] of places) setAt(spec, steps, factor * input.value());
    }
    return spec;
  }

  request(layers, extra = {}) {
    return {
      spec: this.currentSpec(), layers, resolution: 65, samples: 300, grid_lines: 9,
      line_points: 61, ...extra,
    };
  }

  async showBase() {
    try {
      this.state = await evaluate(this.request(0));
      this.draw();
      this.status.textContent = "The base density, before the flow: predict, then see the model.";
    } catch (error) {
      this.status.textContent = `Could not evaluate the demo: ${error.message}`;
    }
  }

  async pointValue(layers) {
    const [x, y] = MARK;
    const state = await evaluate(this.request(layers, {
      bounds: [[x, x + 1e-6], [y, y + 1e-6]], resolution: 2, samples: 0, grid_lines: 0,
    }));
    return state.log_density[0][0];
  }

  async commit() {
    const chosen = this.predictBox.querySelector("input:checked");
    if (!chosen) return;
    this.commitButton.disabled = true;
    try {
      const [before, after] = [await this.pointValue(0), await this.pointValue(this.layerCount)];
      let answer = "unchanged";
      if (before === null || after === null || Math.abs(after - before) >= UNCHANGED) {
        answer = (after ?? -Infinity) > (before ?? -Infinity) ? "up" : "down";
      }
      const right = chosen.value === answer;
      this.result.textContent = `${right ? "Right" : "Not quite"}: at (${MARK[0]}, ${MARK[1]}) the log-density goes from ${fmt(before)} to ${fmt(after)}, so the density goes ${answer === "unchanged" ? "nowhere: it is unchanged" : answer}. You predicted ${chosen.value}.`;
      this.result.className = `demo-result ${right ? "right" : "wrong"}`;
      for (const input of this.predictBox.querySelectorAll("input")) input.disabled = true;
      this.committed = true;
      this.controlBox.disabled = false;
      if (this.caption) this.caption.hidden = false;
      await this.refresh();
    } catch (error) {
      this.commitButton.disabled = false;
      this.status.textContent = `Could not evaluate the demo: ${error.message}`;
    }
  }

  schedule() {
    clearTimeout(this.timer);
    this.status.textContent = "updating…";
    this.timer = setTimeout(() => this.refresh(), 200);
  }

  async refresh() {
    this.inflight?.abort();
    const controller = new AbortController();
    this.inflight = controller;
    try {
      this.state = await evaluate(this.request(Math.round(this.layersInput.value())), controller.signal);
      this.draw();
      this.status.textContent = `The model density with ${this.state.layers} of ${this.layerCount} layers.`;
    } catch (error) {
      if (error.name !== "AbortError") this.status.textContent = `Could not evaluate: ${error.message}`;
    }
  }

  toCanvas([x, y]) {
    const [[x0, x1], [y0, y1]] = this.bounds();
    return [((x - x0) / (x1 - x0)) * SIZE, ((y1 - y) / (y1 - y0)) * SIZE];
  }

  bounds() {
    const { x, y } = this.state.grid;
    return [[x[0], x[x.length - 1]], [y[0], y[y.length - 1]]];
  }

  draw() {
    const s = this.state;
    const ctx = this.canvas.getContext("2d");
    const nx = s.grid.x.length;
    const ny = s.grid.y.length;
    const values = s.log_density.flat().filter((v) => v !== null);
    const top = Math.max(...values);
    const bottom = top - 8;
    const image = new ImageData(nx, ny);
    for (let j = 0; j < ny; j += 1) {
      for (let i = 0; i < nx; i += 1) {
        const v = s.log_density[j][i];
        const at = ((ny - 1 - j) * nx + i) * 4;
        const [r, g, b] = v === null ? [235, 235, 235] : colour((v - bottom) / (top - bottom));
        image.data.set([r, g, b, 255], at);
      }
    }
    const off = new OffscreenCanvas(nx, ny);
    off.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, SIZE, SIZE);

    ctx.strokeStyle = "rgba(255, 255, 255, 0.7)";
    ctx.lineWidth = 1;
    for (const line of s.grid_lines) {
      ctx.beginPath();
      let pen = false;
      for (const p of line.points) {
        if (p[0] === null || p[1] === null) { pen = false; continue; }
        const [cx, cy] = this.toCanvas(p);
        if (pen) ctx.lineTo(cx, cy); else ctx.moveTo(cx, cy);
        pen = true;
      }
      ctx.stroke();
    }
    ctx.fillStyle = "rgba(20, 20, 20, 0.75)";
    for (const p of s.samples.points) {
      if (p[0] === null || p[1] === null) continue;
      const [cx, cy] = this.toCanvas(p);
      ctx.fillRect(cx - 1, cy - 1, 2, 2);
    }
    const [mx, my] = this.toCanvas(MARK);
    ctx.strokeStyle = "#e8413c";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(mx, my, 6, 0, 2 * Math.PI);
    ctx.stroke();
    if (this.probe) {
      const [px, py] = this.toCanvas([s.grid.x[this.probe[0]], s.grid.y[this.probe[1]]]);
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 1;
      ctx.strokeRect(px - 4, py - 4, 8, 8);
    }
    this.showTerms();
  }

  nearest(values, v) {
    let best = 0;
    values.forEach((u, k) => { if (Math.abs(u - v) < Math.abs(values[best] - v)) best = k; });
    return best;
  }

  setProbe(cx, cy) {
    if (!this.state) return;
    const [[x0, x1], [y0, y1]] = this.bounds();
    const x = x0 + (cx / SIZE) * (x1 - x0);
    const y = y1 - (cy / SIZE) * (y1 - y0);
    this.probe = [this.nearest(this.state.grid.x, x), this.nearest(this.state.grid.y, y)];
    this.draw();
  }

  key(event) {
    if (!this.state) return;
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const { x, y } = this.state.grid;
    const [i, j] = this.probe ?? [this.nearest(x, MARK[0]), this.nearest(y, MARK[1])];
    this.probe = [Math.min(Math.max(i + move[0], 0), x.length - 1),
      Math.min(Math.max(j + move[1], 0), y.length - 1)];
    this.draw();
  }

  showTerms() {
    const s = this.state;
    const [i, j] = this.probe ?? [this.nearest(s.grid.x, MARK[0]), this.nearest(s.grid.y, MARK[1])];
    const base = s.base_log_density[j][i];
    const volume = s.log_volume[j][i];
    const sum = s.log_density[j][i];
    const z = document.createElement("sub");
    z.textContent = "Z";
    this.readout.replaceChildren(
      `At x = (${s.grid.x[i].toFixed(2)}, ${s.grid.y[j].toFixed(2)}): base log-density log p`,
      z,
      `(f⁻¹(x)) = ${fmt(base)}, log-volume correction ` +
        `log|det ∂f⁻¹/∂x| = ${fmt(volume)}, sum log p(x) = ${fmt(sum)}`,
    );
  }
}

document.querySelectorAll("figure.demo[data-spec]").forEach((figure, index) => {
  try {
    new FlowDemo(figure, index);
  } catch (error) {
    figure.querySelector(".demo-caption")?.removeAttribute("hidden");
  }
});
