// The concept page's research room, practice loop and note draft. No framework; every
// listener is attached here (the page's CSP allows no inline script or handler).
document.documentElement.classList.add("js");

const $ = (id) => document.getElementById(id);
const article = document.querySelector("article.concept");
const conceptKey = $("prompt-form")?.dataset.concept ?? "";
const objectPath = (key) => key.split("/").map(encodeURIComponent).join("/");

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

// ---- research room -------------------------------------------------------------------
const promptForm = $("prompt-form");
const promptOutput = $("prompt-output");
const copyButton = $("prompt-copy");

async function buildPrompt() {
  const status = $("prompt-status");
  const format = $("prompt-format").value;
  const body = { key: $("prompt-object").value, mode: $("prompt-mode").value, format };
  const question = $("prompt-question").value.trim();
  if (question) body.question = question;
  status.textContent = "building…";
  copyButton.disabled = true;
  $("copy-status").textContent = "";
  try {
    const response = await fetch("/api/prompts", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      status.textContent = `could not build the prompt: ${await errorMessage(response)}`;
      return;
    }
    promptOutput.value =
      format === "json" ? JSON.stringify(await response.json(), null, 2) : await response.text();
    status.textContent = "prompt ready";
    copyButton.disabled = false;
  } catch {
    status.textContent = "could not reach the server";
  }
}

async function copyPrompt() {
  const status = $("copy-status");
  try {
    await navigator.clipboard.writeText(promptOutput.value);
    status.textContent = "copied";
  } catch {
    // No clipboard permission: select the text so that one keystroke copies it.
    promptOutput.focus();
    promptOutput.select();
    status.textContent = "selected: press Ctrl+C (⌘C) to copy";
  }
}

function openResearchRoom(key) {
  const select = $("prompt-object");
  if (![...select.options].some((o) => o.value === key)) return false;
  select.value = key;
  promptForm.scrollIntoView({ block: "start" });
  select.focus();
  buildPrompt();
  return true;
}

if (promptForm) {
  promptForm.addEventListener("submit", (event) => {
    event.preventDefault();
    buildPrompt();
  });
  copyButton.addEventListener("click", copyPrompt);
}

// ---- note drafts -----------------------------------------------------------------------
// A draft per object key in localStorage: {text, next_action, checklist, prediction,
// version, dirty}. "saved" shows only once the server answered the PUT.
const PREDICTION = "\n\n## Practice prediction\n";
const storageKey = (key) => `readingroom.note.${key}`;
const drafts = new Map();
const saveTimers = new Map();
let conflictFor = null;

function readDraft(key) {
  if (drafts.has(key)) return drafts.get(key);
  let draft = { text: "", next_action: "", checklist: {}, prediction: "", version: null };
  try {
    const stored = JSON.parse(localStorage.getItem(storageKey(key)) ?? "null");
    if (stored && typeof stored === "object") draft = { ...draft, ...stored };
  } catch {
    /* a damaged draft is dropped */
  }
  drafts.set(key, draft);
  return draft;
}

function keepDraft(key, draft) {
  drafts.set(key, draft);
  try {
    localStorage.setItem(storageKey(key), JSON.stringify(draft));
  } catch {
    /* storage full or disabled: the draft lives in memory until saved */
  }
}

function fromServer(note) {
  const at = note.text.lastIndexOf(PREDICTION);
  const text = at >= 0 ? note.text.slice(0, at) : note.text;
  const prediction = at >= 0 ? note.text.slice(at + PREDICTION.length) : "";
  return {
    text, prediction, next_action: note.next_action, checklist: { ...note.checklist },
    version: note.version, dirty: false,
  };
}

function toServer(draft, version) {
  const text = draft.prediction ? `${draft.text}${PREDICTION}${draft.prediction}` : draft.text;
  return { text, next_action: draft.next_action, checklist: draft.checklist, version };
}

function statusElements(key) {
  const elements = [];
  if ($("note-object")?.value === key) elements.push($("note-status"));
  if (key === conceptKey && $("practice-status")) elements.push($("practice-status"));
  return elements;
}

function showStatus(key, message) {
  for (const element of statusElements(key)) element.textContent = message;
}

// Signed out in team mode: drafts stay on this device; nothing is asked of the notes API.
const signedIn = document.getElementById("notes")?.dataset.signedIn !== "false";

function scheduleSave(key, delay = 800) {
  clearTimeout(saveTimers.get(key));
  if (!signedIn) {
    showStatus(key, "kept on this device; log in to save it to your notes");
    return;
  }
  saveTimers.set(key, setTimeout(() => saveNote(key), delay));
}

async function saveNote(key, versionOverride) {
  clearTimeout(saveTimers.get(key));
  const draft = readDraft(key);
  const version = versionOverride === undefined ? draft.version : versionOverride;
  showStatus(key, "saving…");
  let response;
  try {
    response = await fetch(`/api/notes/${objectPath(key)}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(toServer(draft, version)),
    });
  } catch {
    showStatus(key, "offline: kept on this device, will save when the server answers");
    scheduleSave(key, 10000);
    return;
  }
  if (response.ok) {
    const note = await response.json();
    const current = readDraft(key);
    const changedMeanwhile = JSON.stringify(toServer(current, null)) !==
      JSON.stringify(toServer(draft, null));
    keepDraft(key, { ...current, version: note.version, dirty: changedMeanwhile });
    if (changedMeanwhile) scheduleSave(key);
    else showStatus(key, "saved");
    return;
  }
  if (response.status === 409) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* no body */
    }
    const theirs = body?.error?.details?.[0];
    if (theirs) {
      showConflict(key, draft, theirs);
      showStatus(key, "not saved: the note changed elsewhere");
      return;
    }
  }
  if (response.status >= 500 || response.status === 429 || response.status === 503) {
    showStatus(key, "server busy: kept on this device, will retry");
    scheduleSave(key, 10000);
    return;
  }
  showStatus(key, `not saved: ${await errorMessage(response)}`);
}

function describe(note) {
  const lines = [note.text || "(no text)"];
  if (note.prediction) lines.push(`Prediction: ${note.prediction}`);
  lines.push(`Next action: ${note.next_action || "(none)"}`);
  for (const [item, done] of Object.entries(note.checklist)) {
    lines.push(`[${done ? "x" : " "}] ${item}`);
  }
  return lines.join("\n");
}

function showConflict(key, mine, theirsNote) {
  const theirs = fromServer(theirsNote);
  conflictFor = { key, theirs };
  if ($("note-object").value !== key) {
    $("note-object").value = key;
    loadNoteForm(key);
  }
  $("conflict-mine").textContent = describe(mine);
  $("conflict-theirs").textContent = describe(theirs);
  $("conflict-version").textContent = String(theirs.version);
  $("note-conflict").hidden = false;
}

function resolveConflict(keepMine) {
  if (!conflictFor) return;
  const { key, theirs } = conflictFor;
  conflictFor = null;
  $("note-conflict").hidden = true;
  if (keepMine) {
    keepDraft(key, { ...readDraft(key), version: theirs.version, dirty: true });
    saveNote(key);
  } else {
    keepDraft(key, theirs);
    showStatus(key, "saved");
  }
  refreshForms(key);
}

// Every note on this concept and its objects, in one request (no 404 per missing note).
async function loadFromServer() {
  const notes = new Map();
  try {
    let cursor = null;
    do {
      const query = new URLSearchParams({ concept: conceptKey, limit: "200" });
      if (cursor) query.set("cursor", cursor);
      const response = await fetch(`/api/notes?${query}`);
      if (!response.ok) throw new Error(await errorMessage(response));
      const page = await response.json();
      for (const note of page.data) notes.set(note.key, note);
      cursor = page.next;
    } while (cursor);
  } catch {
    for (const [key, draft] of drafts) {
      if (draft.dirty) {
        showStatus(key, "offline: kept on this device, will save when the server answers");
        scheduleSave(key, 10000);
      }
    }
    return;
  }
  for (const option of $("prompt-object").options) {
    const key = option.value;
    const local = readDraft(key);
    const note = notes.get(key);
    if (local.dirty) {
      // An unsaved draft from an earlier visit: save it at the version it was based on.
      showStatus(key, "unsaved draft kept on this device: saving…");
      saveNote(key);
    } else if (note) {
      keepDraft(key, fromServer(note));
      showStatus(key, "saved");
    } else {
      keepDraft(key, { ...local, text: "", next_action: "", checklist: {}, prediction: "", version: null });
    }
    refreshForms(key);
  }
}

// The note form, bound to the object chosen in its list.
const noteSelect = $("note-object");

function renderChecklist(key) {
  const list = $("note-checklist");
  list.replaceChildren();
  for (const [item, done] of Object.entries(readDraft(key).checklist)) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = done;
    box.addEventListener("change", () => {
      const draft = readDraft(key);
      keepDraft(key, { ...draft, checklist: { ...draft.checklist, [item]: box.checked }, dirty: true });
      refreshPractice();
      scheduleSave(key);
    });
    label.append(box, ` ${item}`);
    li.append(label);
    list.append(li);
  }
}

function loadNoteForm(key) {
  const draft = readDraft(key);
  $("note-text").value = draft.text;
  $("note-next").value = draft.next_action;
  renderChecklist(key);
  let status = "";
  if (draft.dirty) status = "kept on this device, not saved yet";
  else if (draft.version !== null) status = "saved";
  $("note-status").textContent = status;
}

function refreshForms(key) {
  if (noteSelect && noteSelect.value === key) loadNoteForm(key);
  if (key === conceptKey) refreshPractice();
}

function editNote(field, value) {
  const key = noteSelect.value;
  keepDraft(key, { ...readDraft(key), [field]: value, dirty: true });
  showStatus(key, "kept on this device…");
  scheduleSave(key);
}

if (noteSelect) {
  for (const option of $("prompt-object").options) noteSelect.append(option.cloneNode(true));
  noteSelect.addEventListener("change", () => {
    $("note-conflict").hidden = true;
    loadNoteForm(noteSelect.value);
  });
  $("note-text").addEventListener("input", (e) => editNote("text", e.target.value));
  $("note-next").addEventListener("input", (e) => editNote("next_action", e.target.value));
  $("note-add-item").addEventListener("click", () => {
    const item = $("note-new-item").value.trim();
    if (!item) return;
    const key = noteSelect.value;
    const draft = readDraft(key);
    keepDraft(key, { ...draft, checklist: { ...draft.checklist, [item]: false }, dirty: true });
    $("note-new-item").value = "";
    renderChecklist(key);
    scheduleSave(key);
  });
  $("note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveNote(noteSelect.value);
  });
  $("keep-mine").addEventListener("click", () => resolveConflict(true));
  $("keep-theirs").addEventListener("click", () => resolveConflict(false));
  window.addEventListener("online", () => {
    for (const [key, draft] of drafts) if (draft.dirty) saveNote(key);
  });
}

// ---- practice loop ---------------------------------------------------------------------
const hints = [...document.querySelectorAll("#practice-hints > li")];
let hintsShown = 0;

function showHints() {
  hints.forEach((li, index) => {
    li.hidden = index >= hintsShown;
  });
  const button = $("next-hint");
  button.disabled = hintsShown >= hints.length;
  button.textContent = hintsShown >= hints.length ? "No more hints" : `Show hint ${hintsShown + 1}`;
  $("hint-count").textContent = `${hintsShown} of ${hints.length} hints shown`;
}

function refreshPractice() {
  if (!conceptKey || !$("practice-prediction")) return;
  const draft = readDraft(conceptKey);
  $("practice-prediction").value = draft.prediction;
  for (const box of document.querySelectorAll(".rubric-item")) {
    box.checked = Boolean(draft.checklist[box.value]);
  }
}

if ($("practice-hints")) {
  for (const li of hints) {
    // Hints open in order: each becomes plain text behind the one button.
    const details = li.querySelector("details");
    const body = document.createElement("div");
    body.className = "hint";
    const title = document.createElement("strong");
    title.textContent = details.querySelector("summary").textContent;
    body.append(title, " ");
    details.querySelector("summary").remove();
    body.append(...details.childNodes);
    details.replaceWith(body);
  }
  $("next-hint").addEventListener("click", () => {
    hintsShown = Math.min(hintsShown + 1, hints.length);
    showHints();
    hints[hintsShown - 1]?.querySelector(".hint")?.setAttribute("tabindex", "-1");
    hints[hintsShown - 1]?.querySelector(".hint")?.focus();
  });
  showHints();
  $("practice-prediction").addEventListener("input", (e) => {
    keepDraft(conceptKey, { ...readDraft(conceptKey), prediction: e.target.value, dirty: true });
    showStatus(conceptKey, "kept on this device…");
    scheduleSave(conceptKey);
  });
  for (const box of document.querySelectorAll(".rubric-item")) {
    box.disabled = false;
    box.addEventListener("change", () => {
      const draft = readDraft(conceptKey);
      keepDraft(conceptKey, {
        ...draft, checklist: { ...draft.checklist, [box.value]: box.checked }, dirty: true,
      });
      if (noteSelect?.value === conceptKey) renderChecklist(conceptKey);
      showStatus(conceptKey, "kept on this device…");
      scheduleSave(conceptKey);
    });
  }
  refreshPractice();
}

// ---- object actions --------------------------------------------------------------------
article?.addEventListener("click", (event) => {
  const link = event.target.closest?.("a.prompt-action, a.note-action");
  if (!link) return;
  const key = link.dataset.key;
  if (link.classList.contains("prompt-action")) {
    if (openResearchRoom(key)) event.preventDefault();
  } else if (noteSelect) {
    event.preventDefault();
    noteSelect.value = key;
    noteSelect.dispatchEvent(new Event("change"));
    $("notes").scrollIntoView({ block: "start" });
    $("note-text").focus();
  }
});

if (noteSelect) {
  noteSelect.value = conceptKey;
  loadNoteForm(conceptKey);
  if (signedIn) loadFromServer();
}
