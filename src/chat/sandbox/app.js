// The sandbox page: act as anyone in the demo directory, read each channel as the delivery
// worker posted it, type /challenge, press buttons, fill in forms, and move the demo clock.
// Text from the service is only ever set with textContent: nothing typed can become markup.
"use strict";

const S = {
  dir: null,          // /api/directory
  people: new Map(),  // person id -> { person, agency, board }
  channels: new Map(),// channel id -> { channel, agency, board }
  as: null,           // acting person id
  channel: null,      // channel id on screen
  state: null,        // /api/state
  seq: 0,             // arrival order of private items
  seen: new Map(),    // private post id -> arrival order
  notes: new Map(),   // person id -> [{ seq, kind, text, at }] (help, status, refusals)
  entryKeys: new Map(), // thread element key -> signature, to keep unchanged posts in place
  opener: null,       // the element to give focus back to when a dialog closes
  form: null,         // { spec, submission }
  openBoards: new Set(), // other boards whose channel lists the reader opened
};

const $ = (id) => document.getElementById(id);

/** Builds an element; strings become text nodes, never HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function announce(text) {
  const el = $("announce");
  el.textContent = "";
  window.setTimeout(() => { el.textContent = text; }, 50);
}

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch("api/" + path, init);
  } catch (e) {
    return { kind: "refused", text: "The sandbox server cannot be reached. Is escalation-bot still running?" };
  }
  try {
    return await res.json();
  } catch (e) {
    return { kind: "refused", text: "The sandbox server answered " + res.status + " with something the page cannot read." };
  }
}

// ---- who is who ----

function indexDirectory(dir) {
  for (const board of dir.boards) {
    for (const agency of board.agencies) {
      if (agency.channel) S.channels.set(agency.channel.id, { channel: agency.channel, agency, board });
      for (const person of agency.people) S.people.set(person.id, { person, agency, board });
    }
  }
}

function fillPersonPicker() {
  const select = $("person");
  select.replaceChildren();
  for (const board of S.dir.boards) {
    for (const agency of board.agencies) {
      const group = h("optgroup", { label: agency.name + " (" + board.name + ")" });
      for (const p of agency.people) {
        const level = p.level ? " · " + p.level : "";
        group.append(h("option", { value: p.id, text: p.name + " — " + p.role + level }));
      }
      select.append(group);
    }
  }
}

function me() { return S.people.get(S.as); }

function describeMe() {
  const m = me();
  if (!m) return;
  const level = m.person.level ? " (" + m.person.level + ")" : "";
  $("person-role").textContent = m.person.role + level + ", " + m.agency.name;
  $("private-who").textContent = "Receipts, refusals and direct messages for " + m.person.name + ".";
}

// ---- the URL keeps who and where, so a reload or a shared link lands in the same place ----

function readUrl() {
  const q = new URLSearchParams(location.search);
  return { as: q.get("as"), channel: q.get("channel") };
}

function writeUrl() {
  const q = new URLSearchParams({ as: S.as, channel: S.channel });
  history.replaceState(null, "", "?" + q.toString());
}

function channelHref(id) {
  return "?" + new URLSearchParams({ as: S.as, channel: id }).toString();
}

// ---- channels ----

function threadCount(id) {
  const entries = (S.state && S.state.channels[id]) || [];
  return entries.length;
}

// Which platform a sandbox channel stands for, as a small badge.
function platformBadge(channel) {
  const teams = channel.platform === "teams";
  return h("span", { class: "platform " + (teams ? "teams" : "slack"), text: teams ? "Teams" : "Slack", title: "Stands for a " + (teams ? "Teams" : "Slack") + " channel" });
}

function channelLink(id) {
  const c = S.channels.get(id);
  const count = threadCount(id);
  const link = h("a", { href: channelHref(id), dataset: { channel: id } },
    count ? h("span", { class: "count", text: String(count), "aria-label": count + (count === 1 ? " post" : " posts") }) : null,
    h("span", { class: "chan", text: c.agency.name }),
    h("span", { class: "who" }, platformBadge(c.channel), " ", c.channel.name));
  if (id === S.channel) link.setAttribute("aria-current", "page");
  link.addEventListener("click", (e) => {
    e.preventDefault();
    showChannel(id, true);
  });
  return h("li", {}, link);
}

let navShown = "";

function renderNav() {
  const nav = $("channels");
  // Rebuild only when something in it changed, so links stay put under the reader's pointer.
  const counts = Array.from(S.channels.keys(), (id) => threadCount(id)).join(",");
  const shown = [S.as, S.channel, counts, Array.from(S.openBoards).join(",")].join("|");
  if (shown === navShown) return;
  navShown = shown;
  const focusedChannel = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.channel : null;
  const scrolled = nav.scrollTop;
  nav.replaceChildren();
  const mine = me() ? me().board.id : null;
  const boards = S.dir.boards.slice().sort((a, b) => (a.id === mine ? -1 : b.id === mine ? 1 : 0));
  boards.forEach((board, i) => {
    const list = h("ul", {}, board.agencies.filter((a) => a.channel).map((a) => channelLink(a.channel.id)));
    if (i === 0) {
      nav.append(h("h2", { text: board.name }), list);
    } else {
      const here = S.channel && S.channels.get(S.channel) && S.channels.get(S.channel).board.id === board.id;
      const details = h("details", { open: here || S.openBoards.has(board.id) }, h("summary", { text: board.name }), list);
      details.addEventListener("toggle", () => {
        if (details.open) S.openBoards.add(board.id);
        else S.openBoards.delete(board.id);
      });
      nav.append(details);
    }
  });
  nav.scrollTop = scrolled;
  if (focusedChannel) {
    const back = nav.querySelector('[data-channel="' + CSS.escape(focusedChannel) + '"]');
    if (back) back.focus({ preventScroll: true });
  }
}

function showChannel(id, focusMain) {
  if (!S.channels.has(id)) return;
  S.channel = id;
  S.entryKeys.clear();
  $("feed").replaceChildren();
  writeUrl();
  const c = S.channels.get(id);
  $("channel-title").textContent = c.channel.name + " · " + c.agency.name;
  $("channel-about").textContent = c.agency.is_board
    ? "The board's own channel: notices the procedure sends to the business unit and the chair."
    : "This agency's challenges channel: one thread per challenge it is part of, updated as the delivery worker posts.";
  $("composer-channel").replaceChildren(c.channel.name, " ", platformBadge(c.channel));
  // Each channel takes its platform's way of starting a command.
  const word = c.channel.command || "/challenge";
  $("composer-text").placeholder = word;
  $("composer-hint").replaceChildren("Type ", h("code", { text: word }), " to raise a challenge, or ", h("code", { text: word + " help" }), " for every command.");
  renderNav();
  renderFeed();
  if (focusMain) $("main").focus();
}

// ---- posts ----

function spans(list) {
  return (list || []).map((s) => {
    if (s.type === "mention") {
      const isMe = s.person === S.as;
      return h("span", { class: "mention" + (isMe ? " me" : ""), title: isMe ? "You" : null }, "@" + s.name, isMe ? h("span", { class: "sr-only", text: " (you)" }) : null);
    }
    return document.createTextNode(s.text);
  });
}

function buttons(msg, channel) {
  const verbs = msg.buttons || [];
  const commands = msg.commands || [];
  if (!verbs.length && !commands.length) return null;
  return h("div", { class: "actions", role: "group", "aria-label": "Actions on " + msg.reference },
    verbs.map((b) => h("button", {
      type: "button",
      class: "btn" + (b.primary ? " primary" : ""),
      dataset: { action: b.action, reference: b.reference, channel: channel || "", key: "btn:" + b.reference + ":" + b.action },
      text: b.label,
      onclick: (e) => press(e.currentTarget),
    })).concat(commands.map((c) => h("button", {
      type: "button",
      class: "btn",
      dataset: { command: c.word, channel: channel || "", key: "cmd:" + msg.reference + ":" + c.word },
      text: c.label,
      onclick: (e) => pressCommand(e.currentTarget),
    }))));
}

function postCard(post, opts) {
  const msg = post.message || {};
  const heading = opts.reply ? "p" : "h3";
  const closed = msg.status === "Resolved" || msg.status === "Withdrawn";
  const card = h("article", {
    class: "post " + (opts.kind || "") + (closed ? " closed" : "") + (opts.extra ? " " + opts.extra : ""),
    dataset: { reference: msg.reference || "", post: String(post.id), kind: post.kind },
  });
  const meta = [opts.label || "escalation-bot", post.posted];
  if (post.updated) meta.push("updated " + post.updated);
  if (!opts.reply) {
    card.append(h(heading, { class: "title", text: msg.title }));
    if (msg.status) card.append(h("p", { class: "status", text: msg.status }));
  }
  card.append(h("p", { class: "meta", text: meta.filter(Boolean).join(" · ") }));
  if (msg.urgent) card.append(h("p", { class: "urgent" }, h("strong", { text: "Act now: " }), msg.urgent));
  for (const line of msg.lines || []) {
    card.append(h("p", { class: "line" }, line.label ? h("span", { class: "line-label", text: line.label + ": " }) : null, spans(line.spans)));
  }
  if (msg.prompt) card.append(h("p", { class: "prompt" }, h("strong", { text: "What to do now: " }), msg.prompt));
  for (const f of msg.footer || []) card.append(h("p", { class: "footer", text: f }));
  const actions = buttons(msg, opts.channel);
  if (actions) card.append(actions);
  if (opts.record && msg.reference) {
    const more = actions || h("div", { class: "actions" });
    more.append(h("button", {
      type: "button", class: "link", text: "View the record",
      dataset: { record: msg.reference, key: "record:" + msg.reference },
      onclick: (e) => openRecord(msg.reference, e.currentTarget),
    }));
    if (!actions) card.append(more);
  }
  return card;
}

function entryElement(entry, channel) {
  const p = entry.post;
  const kind = p.kind === "notice" ? "notice" : "root";
  const wrap = h("section", { class: "thread", "aria-label": (p.message && p.message.title) || "Post" });
  wrap.append(postCard(p, { kind, channel, record: true, label: p.kind === "notice" ? "escalation-bot · notice" : null }));
  if (entry.replies.length) {
    wrap.append(h("ol", { class: "replies", "aria-label": "Replies in the thread" },
      entry.replies.map((r) => h("li", {}, postCard(r, { reply: true, channel })))));
  }
  return wrap;
}

function renderFeed() {
  const feed = $("feed");
  const entries = (S.state && S.state.channels[S.channel]) || [];
  const nearBottom = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 80;
  const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
  if (!entries.length) {
    S.entryKeys.clear();
    const word = (S.channels.get(S.channel) && S.channels.get(S.channel).channel.command) || "/challenge";
    feed.replaceChildren(h("p", { class: "empty", text: "No challenges in this channel yet. Type " + word + " below to raise one." }));
    return;
  }
  const existing = new Map(Array.from(feed.children).filter((el) => el.dataset.entry).map((el) => [el.dataset.entry, el]));
  const wanted = [];
  let added = 0;
  let newest = null;
  for (const entry of entries) {
    const key = String(entry.post.id);
    const isNew = !existing.has(key) && existing.size > 0;
    const sig = entry.post.revision + ":" + entry.replies.length + ":" + S.as;
    let el = existing.get(key);
    if (!el || S.entryKeys.get(key) !== sig) {
      el = entryElement(entry, S.channel);
      el.dataset.entry = key;
      S.entryKeys.set(key, sig);
      added++;
      if (isNew) newest = el;
    }
    wanted.push(el);
  }
  // Move only what changed, so the reader's scroll position and focus stay where they were.
  wanted.forEach((el, i) => {
    if (feed.children[i] !== el) feed.insertBefore(el, feed.children[i] || null);
  });
  while (feed.children.length > wanted.length) feed.lastElementChild.remove();
  if (focusKey && !document.activeElement.isConnected) {
    const back = feed.querySelector('[data-key="' + CSS.escape(focusKey) + '"]');
    if (back) back.focus();
  }
  // A thread that has just appeared is brought into view, wherever the reader was.
  if (newest) newest.scrollIntoView({ block: "nearest" });
  else if (added && nearBottom) feed.scrollTop = feed.scrollHeight;
}

function renderPrivate() {
  const list = $("private-list");
  const items = [];
  for (const p of (S.state && S.state.private) || []) {
    if (!S.seen.has(p.id)) S.seen.set(p.id, ++S.seq);
    const where = p.kind === "direct" ? "Direct message" : "Only visible to you" + channelName(p.channel);
    items.push({ seq: S.seen.get(p.id), el: postCard(p, { kind: "private", label: where, channel: "direct" }) });
  }
  for (const n of S.notes.get(S.as) || []) {
    const label = n.kind === "refused" ? "Refused: nothing was recorded" : "escalation-bot";
    items.push({
      seq: n.seq,
      el: h("article", { class: "post " + (n.kind === "refused" ? "refused" : ""), dataset: { kind: n.kind } },
        h("p", { class: "meta", text: label + " · " + n.at }),
        h("p", { class: "text", text: n.text })),
    });
  }
  items.sort((a, b) => b.seq - a.seq);
  const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
  const scrolled = $("private").scrollTop;
  list.replaceChildren(...(items.length ? items.map((i) => i.el) : [h("p", { class: "empty", text: "Nothing yet." })]));
  $("private").scrollTop = scrolled;
  if (focusKey && !document.activeElement.isConnected) {
    const back = list.querySelector('[data-key="' + CSS.escape(focusKey) + '"]');
    if (back) back.focus({ preventScroll: true });
  }
}

function channelName(id) {
  if (!id || id === "direct") return "";
  const c = S.channels.get(id);
  return c ? " · in " + c.channel.name : "";
}

function note(kind, text) {
  const list = S.notes.get(S.as) || [];
  const at = S.state ? S.state.clock.now_uk : "";
  list.push({ seq: ++S.seq, kind, text, at });
  S.notes.set(S.as, list);
  renderPrivate();
  announce((kind === "refused" ? "Refused: " : "") + text.split("\n")[0]);
}

// ---- the clock ----

function renderClock() {
  const c = S.state && S.state.clock;
  if (!c) return;
  $("clock-now").textContent = c.now_uk;
  $("clock-now").setAttribute("datetime", c.now);
  const pill = $("clock-hours");
  pill.textContent = c.working ? "working hours" : "outside working hours";
  pill.className = "pill " + (c.working ? "working" : "closed");
  $("clock-note").textContent = c.note;
  for (const b of document.querySelectorAll(".clock-controls button")) b.disabled = !c.movable;
}

async function advance(unit, by) {
  const body = { as: S.as };
  body[unit] = by;
  const r = await api("POST", "clock", body);
  if (r.kind === "refused") {
    note("refused", r.text);
    return;
  }
  if (S.state) S.state.clock = r;
  renderClock();
  announce("Demo clock moved to " + r.now_uk);
  scheduleRefresh();
}

// ---- live state ----

let refreshing = null;
let again = false;

async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      const who = S.as;
      const r = await api("GET", "state?as=" + encodeURIComponent(who));
      if (who !== S.as) {
        again = true; // the reader switched person meanwhile: this answer is someone else's
      } else if (r && r.channels) {
        S.state = r;
        renderClock();
        renderNav();
        renderFeed();
        renderPrivate();
      }
    } while (again);
  })();
  try { await refreshing; } finally { refreshing = null; }
}

let timer = null;
function scheduleRefresh() {
  if (timer) return;
  timer = window.setTimeout(() => { timer = null; refresh(); }, 80);
}

function listen() {
  if (!window.EventSource) {
    window.setInterval(refresh, 2000);
    return;
  }
  const es = new EventSource("api/stream");
  es.addEventListener("change", scheduleRefresh);
  // The stream ends now and then on purpose; the browser reconnects. Poll meanwhile, slowly.
  window.setInterval(() => { if (es.readyState !== EventSource.OPEN) refresh(); }, 3000);
  // The demo clock runs with real time between moves.
  window.setInterval(refresh, 30000);
}

// ---- acting: the composer, buttons, forms ----

function handleReply(r, context) {
  switch (r.kind) {
    case "form":
      openForm(r.form, context && context.opener);
      return true;
    case "recorded":
      announce("Recorded on " + r.reference + ". The posts follow in the threads.");
      scheduleRefresh();
      return true;
    case "ephemeral":
      note("ephemeral", r.text);
      return true;
    case "refused":
      note("refused", r.text);
      return false;
    default:
      note("refused", "The sandbox server answered something the page does not understand.");
      return false;
  }
}

async function press(button) {
  button.disabled = true;
  const channel = button.dataset.channel || S.channel;
  try {
    const r = await api("POST", "action", {
      as: S.as, channel, action: button.dataset.action, reference: button.dataset.reference, submission: uuid(),
    });
    handleReply(r, { opener: button });
  } finally {
    button.disabled = false;
  }
}

// A command button is answered exactly as typing its word: it goes the typed way.
async function pressCommand(button) {
  button.disabled = true;
  const channel = button.dataset.channel || S.channel;
  try {
    const word = (S.channels.get(channel) && S.channels.get(channel).channel.command) || "/challenge";
    const r = await api("POST", "command", { as: S.as, channel, text: word + " " + button.dataset.command, submission: uuid() });
    handleReply(r, { opener: button });
  } finally {
    button.disabled = false;
  }
}

async function sendCommand(e) {
  e.preventDefault();
  const input = $("composer-text");
  const text = input.value.trim();
  if (!text) return;
  const r = await api("POST", "command", { as: S.as, channel: S.channel, text, submission: uuid() });
  if (handleReply(r, { opener: input })) input.value = "";
}

// "(required)" or "(optional)" after a label, so nobody has to guess.
function mark(f) {
  return h("span", { class: f.required ? "req" : "opt", text: f.required ? " (required)" : " (optional)" });
}

function fieldControl(f) {
  const id = "f-" + f.id;
  const described = [f.hint ? id + "-hint" : null, id + "-error"].filter(Boolean).join(" ");
  const hint = f.hint ? h("p", { class: "hint", id: id + "-hint", text: f.hint }) : null;
  const error = h("p", { class: "error", id: id + "-error" });
  // What the chosen option means (a category's guidance, a step's prompt), shown once chosen.
  const detail = h("p", { class: "hint detail", id: id + "-detail", "aria-live": "polite" });
  const details = {};
  for (const c of f.choices.concat(...(f.groups || []).map((g) => g.choices))) if (c.detail) details[c.value] = c.detail;
  const showDetail = (value) => { detail.textContent = details[value] || ""; };
  if (f.kind === "radios") {
    const box = h("div", { class: "field", dataset: { field: f.id } },
      h("fieldset", { "aria-describedby": described },
        h("legend", {}, f.label, mark(f)),
        hint,
        f.choices.map((c, i) => h("label", {},
          h("input", { type: "radio", name: f.id, value: c.value, id: i === 0 ? id : id + "-" + i, "aria-required": f.required ? "true" : null }),
          " " + c.label))),
      detail,
      error);
    box.addEventListener("change", (e) => showDetail(e.target.value));
    return box;
  }
  let control;
  if (f.kind === "select") {
    control = h("select", { id, name: f.id }, h("option", { value: "", text: f.required ? "Choose…" : "None" }));
    for (const c of f.choices) control.append(h("option", { value: c.value, text: c.label }));
    for (const g of f.groups) {
      control.append(h("optgroup", { label: g.label }, g.choices.map((c) => h("option", { value: c.value, text: c.label }))));
    }
  } else if (f.kind === "textarea") {
    control = h("textarea", { id, name: f.id, rows: 3, maxlength: f.max_length });
  } else if (f.kind === "date_time") {
    control = h("input", { id, name: f.id, type: "datetime-local" });
  } else {
    control = h("input", { id, name: f.id, type: "text", maxlength: f.max_length });
  }
  control.setAttribute("aria-describedby", described);
  if (f.required) control.setAttribute("aria-required", "true");
  control.addEventListener("change", () => showDetail(control.value));
  return h("div", { class: "field", dataset: { field: f.id } }, h("label", { for: id }, f.label, mark(f)), hint, control, detail, error);
}

function openForm(spec, opener) {
  S.form = { spec, submission: uuid() };
  S.opener = opener || document.activeElement;
  $("form-title").textContent = spec.title + (spec.reference ? " · " + spec.reference : "");
  $("form-intro").textContent = spec.intro;
  $("form-notes").replaceChildren(...(spec.notes || []).map((n) => h("p", { class: "note", text: n })));
  $("form-error").textContent = "";
  $("form-submit").textContent = spec.submit;
  $("form-fields").replaceChildren(...spec.fields.map(fieldControl));
  const dialog = $("form-dialog");
  dialog.dataset.form = spec.name;
  dialog.showModal();
  const first = dialog.querySelector("#form-fields input, #form-fields select, #form-fields textarea");
  if (first) first.focus();
}

function formValues() {
  const values = {};
  for (const f of S.form.spec.fields) {
    if (f.kind === "radios") {
      const checked = document.querySelector('#form-fields input[name="' + CSS.escape(f.id) + '"]:checked');
      values[f.id] = checked ? checked.value : "";
    } else {
      const el = $("f-" + f.id);
      values[f.id] = el ? el.value : "";
    }
  }
  return values;
}

function showErrors(errors) {
  let first = null;
  $("form-error").textContent = errors._form || "";
  for (const f of S.form.spec.fields) {
    const text = errors[f.id] || "";
    const box = $("f-" + f.id + "-error");
    if (box) box.textContent = text;
    const controls = document.querySelectorAll('#form-fields [name="' + CSS.escape(f.id) + '"]');
    for (const c of controls) {
      if (text) c.setAttribute("aria-invalid", "true");
      else c.removeAttribute("aria-invalid");
    }
    if (text && !first) first = controls[0];
  }
  if (first) first.focus();
  else if (errors._form) $("form-error").focus();
}

async function submitForm(e) {
  e.preventDefault();
  if (!S.form) return;
  const submit = $("form-submit");
  submit.disabled = true;
  try {
    const spec = S.form.spec;
    const r = await api("POST", "form/" + encodeURIComponent(spec.name), {
      as: S.as, channel: S.channel, reference: spec.reference, submission: S.form.submission, fields: formValues(),
    });
    if (r.kind === "recorded") {
      closeForm();
      announce("Recorded" + (r.reference ? " on " + r.reference : "") + ". The posts follow in the threads.");
      scheduleRefresh();
    } else if (r.kind === "errors") {
      showErrors(r.errors || {});
    } else {
      showErrors({ _form: r.text || "This could not be recorded." });
    }
  } finally {
    submit.disabled = false;
  }
}

function closeForm() {
  const dialog = $("form-dialog");
  if (dialog.open) dialog.close();
}

function restoreFocus() {
  const back = S.opener;
  S.opener = null;
  if (back && back.isConnected) back.focus();
  else if (back && back.dataset && back.dataset.key) {
    const same = document.querySelector('[data-key="' + CSS.escape(back.dataset.key) + '"]');
    if (same) same.focus();
    else $("composer-text").focus();
  } else $("composer-text").focus();
}

async function openRecord(reference, opener) {
  const r = await api("GET", "record/" + encodeURIComponent(reference));
  if (r.kind === "refused") {
    note("refused", r.text);
    return;
  }
  S.opener = opener;
  $("record-title").textContent = "The record of " + r.reference;
  $("record-status").textContent = r.between + " · " + r.title + " · " + r.status;
  const verified = $("record-verified");
  verified.textContent = r.verified;
  verified.className = r.intact ? "verified-ok" : "verified-broken";
  const body = $("record-table").querySelector("tbody");
  body.replaceChildren(...r.events.map((e) => h("tr", { dataset: { kind: e.kind } },
    h("td", { text: String(e.n) }), h("td", { class: "when", text: e.at }), h("td", { class: "who", text: e.who }), h("td", { class: "what", text: e.what }))));
  const dialog = $("record-dialog");
  dialog.showModal();
  $("record-close").focus({ preventScroll: true });
  dialog.scrollTop = 0;
}

// ---- start ----

async function start() {
  const dir = await api("GET", "directory");
  if (!dir.boards) {
    $("channel-title").textContent = "The sandbox cannot load its directory.";
    return;
  }
  S.dir = dir;
  indexDirectory(dir);
  fillPersonPicker();
  const url = readUrl();
  S.as = S.people.has(url.as) ? url.as : (S.people.has("sam-patel") ? "sam-patel" : S.people.keys().next().value);
  $("person").value = S.as;
  describeMe();
  const own = me().agency.channel ? me().agency.channel.id : S.channels.keys().next().value;
  S.channel = S.channels.has(url.channel) ? url.channel : own;

  $("person").addEventListener("change", (e) => {
    S.as = e.target.value;
    if (S.state) S.state.private = [];
    describeMe();
    const mine = me().agency.channel;
    showChannel(mine ? mine.id : S.channel, false);
    renderPrivate();
    refresh();
  });
  $("composer").addEventListener("submit", sendCommand);
  $("form").addEventListener("submit", submitForm);
  $("form-cancel").addEventListener("click", closeForm);
  $("form-dialog").addEventListener("close", () => { S.form = null; restoreFocus(); });
  $("record-close").addEventListener("click", () => $("record-dialog").close());
  $("record-dialog").addEventListener("close", restoreFocus);
  for (const b of document.querySelectorAll("[data-advance]")) {
    b.addEventListener("click", () => advance(b.dataset.advance, Number(b.dataset.by)));
  }
  $("clock-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const n = Math.floor(Number($("advance-amount").value));
    if (!(n >= 1)) {
      note("refused", "Give a whole number of hours or working days to move the clock by.");
      return;
    }
    advance($("advance-unit").value, n);
  });

  showChannel(S.channel, false);
  await refresh();
  listen();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
