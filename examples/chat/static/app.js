// The chat page: plain JavaScript on top of the stock socket.io client
// (the global `io`, loaded from /socket.io/socket.io.js).
//
// The server is the source of truth: the page asks to set its nickname,
// join a room or send a message, and renders what the server answers
// (acknowledgements) and broadcasts (events).
"use strict";

const ACK_TIMEOUT = 5000;     // ms to wait for the server's acknowledgement
const TYPING_REFRESH = 2000;  // ms between "typing" reminders while typing
const TYPING_PAUSE = 2500;    // ms of silence after which we stop typing
const TYPING_EXPIRY = 5000;   // ms after which someone else's indicator fades

const $ = (id) => document.getElementById(id);

const state = {
  nick: "",           // our nickname, once the server accepted it
  room: "",           // the room we are in, once the server confirmed it
  users: [],          // nicknames in our room
  typers: new Map(),  // nickname -> timer that clears the indicator
  seen: new Set(),    // ids of the messages shown in our room
  // Versions of the last room list and member list shown. A cluster of
  // servers (examples/cluster) numbers these snapshots: one computed
  // earlier on another server can arrive after a newer one, and is then
  // ignored. A single server sends no version.
  versions: { rooms: 0, users: 0 },
};

// fresh reports whether a snapshot of kind ("rooms" or "users") with this
// version is newer than the one shown, and records it if so.
function fresh(kind, version) {
  if (typeof version !== "number") return true;
  if (version < state.versions[kind]) return false;
  state.versions[kind] = version;
  return true;
}

// A random token identifying this tab across reconnections, sent in the
// handshake: if our old connection is still open on the server (it may
// not have noticed it is gone), the server gives our nickname back to us.
function tabToken() {
  let token = sessionStorage.getItem("chat-token");
  if (!token) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("chat-token", token);
  }
  return token;
}

function setStatus(kind, text) {
  const el = $("status");
  el.dataset.state = kind;
  el.textContent = text;
}

if (typeof io !== "function") {
  setStatus("offline", "the socket.io client did not load");
  throw new Error("socket.io client missing");
}

// The transports can be chosen in the address of the page:
// ?transports=websocket skips HTTP long-polling, which a cluster behind a
// load balancer without sticky sessions needs (see examples/cluster).
const transports = new URLSearchParams(location.search).get("transports");
const socket = io({
  auth: { token: tabToken() },
  ...(transports ? { transports: transports.split(",") } : {}),
});

// request emits an event with an acknowledgement and resolves to the
// server's reply; it rejects when the server refuses (reply.error) or
// does not answer in time.
async function request(event, payload) {
  let reply;
  try {
    reply = await socket.timeout(ACK_TIMEOUT).emitWithAck(event, payload);
  } catch {
    throw new Error("the server did not answer");
  }
  if (reply && reply.error) throw new Error(reply.error);
  return reply;
}

// ---- Connection ----------------------------------------------------------

socket.on("connect", () => {
  setStatus("connected", "connected");
  state.versions = { rooms: 0, users: 0 };
  // After a reconnection we have a new socket on the server: claim the
  // nickname again and go back to our room.
  if (state.nick) restore();
});

socket.on("disconnect", (reason) => {
  clearTypers();
  setComposer(false);
  if (reason === "io server disconnect") {
    // The server closed this connection on purpose (our nickname was
    // taken over, e.g. by a duplicate of this tab). The client does not
    // reconnect by itself in that case.
    setStatus("offline", "disconnected by the server");
    state.nick = "";
    showNickDialog("You were disconnected by the server. Choose a nickname to come back.");
  } else {
    setStatus("reconnecting", "connection lost, reconnecting…");
  }
});

socket.io.on("reconnect_attempt", (attempt) => {
  setStatus("reconnecting", `reconnecting (attempt ${attempt})…`);
});

socket.on("connect_error", () => {
  if (!socket.active) setStatus("offline", "cannot connect to the server");
});

async function restore() {
  try {
    await request("nick", { nick: state.nick });
  } catch (err) {
    // Someone else took our nickname while we were away.
    state.nick = "";
    showNickDialog(`Your nickname is no longer available: ${err.message}`);
    return;
  }
  try {
    await enterRoom(state.room || "lobby");
    addNotice("Reconnected.", Date.now());
  } catch (err) {
    $("room-error").textContent = err.message;
  }
}

// ---- Nickname ------------------------------------------------------------

function showNickDialog(error) {
  $("nick-error").textContent = error || "";
  $("nick-dialog").hidden = false;
  $("nick-input").focus();
}

$("nick-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!socket.connected && !socket.active) socket.connect();
  const button = e.target.querySelector("button");
  button.disabled = true;
  $("nick-error").textContent = "";
  try {
    const reply = await request("nick", { nick: $("nick-input").value });
    state.nick = reply.nick;
    $("me").textContent = state.nick;
    $("me").hidden = false;
    $("nick-dialog").hidden = true;
    await enterRoom(state.room || "lobby");
  } catch (err) {
    $("nick-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

// ---- Rooms ---------------------------------------------------------------

async function enterRoom(name) {
  const reply = await request("join", { room: name });
  stopTyping(false);
  clearTypers();
  state.room = reply.room;
  state.users = reply.users || [];
  state.versions.users = reply.version || 0;
  state.seen.clear();
  $("room-title").textContent = `#${state.room}`;
  $("messages").replaceChildren();
  for (const m of reply.history || []) addMessage(m);
  addNotice(`You are in #${state.room}.`, Date.now());
  renderUsers();
  highlightRoom();
  setComposer(true);
  $("message-input").focus();
}

$("room-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("room-input");
  $("room-error").textContent = "";
  try {
    await enterRoom(input.value);
    input.value = "";
  } catch (err) {
    $("room-error").textContent = err.message;
  }
});

// The room list, with member counts, is pushed to everyone on each change.
socket.on("rooms", (rooms, version) => {
  if (!fresh("rooms", version)) return;
  const items = rooms.map(({ name, users }) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "room";
    button.dataset.room = name;
    const label = document.createElement("span");
    label.textContent = `#${name}`;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = users;
    count.title = `${users} ${users === 1 ? "person" : "people"}`;
    button.append(label, count);
    button.addEventListener("click", () => {
      if (name === state.room || !state.nick) return;
      $("room-error").textContent = "";
      enterRoom(name).catch((err) => { $("room-error").textContent = err.message; });
    });
    const li = document.createElement("li");
    li.append(button);
    return li;
  });
  $("rooms").replaceChildren(...items);
  highlightRoom();
});

function highlightRoom() {
  for (const b of $("rooms").querySelectorAll("button.room")) {
    if (b.dataset.room === state.room) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  }
}

socket.on("users", ({ room, users, version }) => {
  if (room !== state.room || !fresh("users", version)) return;
  state.users = users;
  for (const nick of state.typers.keys()) {
    if (!users.includes(nick)) setTyper(nick, false);
  }
  renderUsers();
});

function renderUsers() {
  $("users-room").textContent = state.room ? `#${state.room}` : "the room";
  $("users").replaceChildren(...state.users.map((nick) => {
    const li = document.createElement("li");
    li.textContent = nick;
    if (nick === state.nick) li.className = "self";
    return li;
  }));
}

// ---- Messages ------------------------------------------------------------

function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// append adds an item to the message list, keeping the view at the bottom
// when it was there already.
function append(li) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function addMessage({ id, from, text, time }) {
  // A message sent while we joined can come both in the history and as
  // an event: show it once.
  if (id) {
    if (state.seen.has(id)) return;
    state.seen.add(id);
    if (state.seen.size > 500) state.seen.delete(state.seen.values().next().value);
  }
  const li = document.createElement("li");
  li.className = from === state.nick ? "message mine" : "message";
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = from === state.nick ? `${from} (you)` : from;
  const when = document.createElement("time");
  when.dateTime = new Date(time).toISOString();
  when.textContent = formatTime(time);
  meta.append(author, when);
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text; // never innerHTML: the text comes from users
  li.append(meta, body);
  append(li);
}

function addNotice(text, time) {
  const li = document.createElement("li");
  li.className = "notice";
  li.textContent = `${text} · ${formatTime(time)}`;
  append(li);
}

socket.on("message", (m) => {
  if (m.room !== state.room) return;
  setTyper(m.from, false);
  addMessage(m);
});

socket.on("notice", ({ room, nick, kind, time }) => {
  if (room !== state.room) return;
  addNotice(kind === "join" ? `${nick} joined` : `${nick} left`, time);
});

function setComposer(enabled) {
  const form = $("message-form");
  for (const el of form.elements) el.disabled = !enabled;
}

$("message-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("message-input");
  const text = input.value.trim();
  if (!text) return;
  stopTyping(false); // the others clear our indicator when the message arrives
  input.value = "";
  $("message-error").textContent = "";
  try {
    await request("message", { text });
  } catch (err) {
    if (!input.value) input.value = text;
    $("message-error").textContent = err.message;
  }
});

// ---- Typing indicators ---------------------------------------------------

// Ours: "typing: true" when we start and every TYPING_REFRESH ms while we
// go on (the server relays it as a volatile event, which may be dropped),
// "typing: false" after a pause or when the input is emptied.
let typingSince = 0;
let typingTimer;

$("message-input").addEventListener("input", (e) => {
  if (!state.room) return;
  if (!e.target.value.trim()) {
    stopTyping(true);
    return;
  }
  const now = Date.now();
  if (now - typingSince > TYPING_REFRESH) {
    socket.volatile.emit("typing", true);
    typingSince = now;
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => stopTyping(true), TYPING_PAUSE);
});

function stopTyping(notify) {
  clearTimeout(typingTimer);
  if (typingSince && notify) socket.volatile.emit("typing", false);
  typingSince = 0;
}

// Theirs: an indicator per nickname, cleared by "typing: false", by their
// message, or after TYPING_EXPIRY ms without news.
socket.on("typing", ({ room, nick, typing }) => {
  if (room === state.room && nick !== state.nick) setTyper(nick, typing);
});

function setTyper(nick, typing) {
  clearTimeout(state.typers.get(nick));
  state.typers.delete(nick);
  if (typing) state.typers.set(nick, setTimeout(() => setTyper(nick, false), TYPING_EXPIRY));
  renderTypers();
}

function clearTypers() {
  for (const timer of state.typers.values()) clearTimeout(timer);
  state.typers.clear();
  renderTypers();
}

function renderTypers() {
  const names = [...state.typers.keys()];
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  $("typing").textContent = text;
}
