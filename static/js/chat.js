// Live chat. Without this file every form posts and the page comes back; with it messages come
// over a websocket. A reconnect asks for everything after the last sequence number shown, each
// message is shown once (by seq), and unconfirmed sends are resent with the same client id so
// the server stores them once. Message text only ever goes in through textContent.
(function () {
  "use strict";
  var focus = document.querySelector("[data-focus-on-load]");
  if (focus) { focus.focus(); }
  var base = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/support/";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text) { e.textContent = text; }
    return e;
  }
  function hhmm(iso) {
    var d = new Date(iso);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function chat(root) {
    var id = root.getAttribute("data-chat"), role = root.getAttribute("data-role");
    function t(key) { return root.getAttribute("data-t-" + key) || ""; }
    function part(name) { return root.querySelector("[data-chat-" + name + "]"); }
    var list = root.querySelector(".chat-list"), log = root.querySelector("[role=log]");
    var form = part("form"), box = form && form.querySelector("textarea");
    var last = parseInt(root.getAttribute("data-last-seq"), 10) || 0;
    var pending = {}, lastSent = "", socket = null, open = false, delay = 1000;
    var typingSent = 0, typingTimer = null, error = null;

    function shown(seq) { return list.querySelector('[data-seq="' + seq + '"]'); }
    function add(m) {
      if (m.client_id) { delete pending[m.client_id]; }
      if (shown(m.seq)) { return; }
      var li = el("li", "chat-msg chat-" + m.sender), meta = el("p", "chat-meta"), time;
      li.setAttribute("data-seq", m.seq);
      meta.appendChild(el("span", "chat-author", m.sender === "system" ? t("support") : m.author || m.sender));
      meta.appendChild(document.createTextNode(" "));
      time = meta.appendChild(el("time", "", hhmm(m.at)));
      time.setAttribute("datetime", m.at);
      li.appendChild(meta);
      li.appendChild(el("p", "chat-body", m.body));
      var next = null;  // keep seq order when a replay and a live message cross
      for (var i = 0; i < list.children.length && !next; i++) {
        if (+list.children[i].getAttribute("data-seq") > m.seq) { next = list.children[i]; }
      }
      list.insertBefore(li, next);
      while (shown(last + 1)) { last += 1; }
      if (m.seq > last && open) { send({ type: "resume", after: last }); }
      if (m.sender !== role) { part("typing").textContent = ""; }
      log.scrollTop = log.scrollHeight;
    }
    function status(c) {
      root.setAttribute("data-status", c.status);
      part("status").textContent = t(c.status);
      if (c.status === "closed" && form) { form.remove(); form = null; }
      var leave = document.querySelector("[data-chat-leave]");  // offered while nobody answers
      if (leave && role === "customer") { leave.hidden = c.status === "active" || c.status === "closed"; }
    }
    function presence(online) {
      var p = part("presence");
      if (p) { p.textContent = online ? t("online") : t("offline"); }
    }
    function showError(text) {
      if (!form) { return; }
      if (!error) {
        error = el("p", "error");
        error.setAttribute("role", "alert");
        form.insertBefore(error, form.firstChild);
      }
      error.textContent = text;
    }
    function send(data) { if (open) { socket.send(JSON.stringify(data)); } }
    function handle(d) {
      if (d.type === "hello") {
        open = true;
        delay = 1000;
        part("connection").textContent = "";
        d.messages.forEach(add);
        status(d.conversation);
        presence(d.online);
        Object.keys(pending).forEach(function (cid) {
          send({ type: "message", body: pending[cid], client_id: cid });
        });
      } else if (d.type === "message") { add(d.message); }
      else if (d.type === "messages") { d.messages.forEach(add); }
      else if (d.type === "status") { status(d.conversation); }
      else if (d.type === "presence") { presence(d.online); }
      else if (d.type === "typing") {
        part("typing").textContent = t("typing");
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { part("typing").textContent = ""; }, 6000);
      } else if (d.type === "error") {
        if (pending[lastSent] && box && !box.value) { box.value = pending[lastSent]; }
        delete pending[lastSent];
        showError(d.message);
      }
    }
    function connect() {
      socket = new WebSocket(base + "chat/" + id + "/?after=" + last);
      socket.onmessage = function (e) { handle(JSON.parse(e.data)); };
      socket.onclose = function (e) {
        open = false;
        if (e.code === 4404 || e.code === 4403) { return; }
        part("connection").textContent = t("reconnecting");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }
    if (form) {
      form.addEventListener("submit", function (e) {
        if (!open) { return; }  // no socket: the form posts, as without JavaScript
        e.preventDefault();
        lastSent = id.slice(0, 8) + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
        pending[lastSent] = box.value;
        send({ type: "message", body: box.value, client_id: lastSent });
        box.value = "";
        if (error) { error.textContent = ""; }
        box.focus();
      });
      box.addEventListener("input", function () {
        if (Date.now() - typingSent > 3000) { typingSent = Date.now(); send({ type: "typing" }); }
      });
    }
    log.scrollTop = log.scrollHeight;
    connect();
  }

  function lobby(root) {
    var list = root.querySelector("ul"), token = root.querySelector("[name=csrfmiddlewaretoken]");
    function t(key) { return root.getAttribute("data-t-" + key) || ""; }
    function show(d) {
      list.textContent = "";
      if (!d.waiting.length) { list.appendChild(el("li", "", t("empty"))); }
      d.waiting.forEach(function (c) {
        var li = el("li", "", c.name + (c.order ? " · " + c.order : "") + " — " + c.preview + " ");
        var f = li.appendChild(el("form", "inline")), b = el("button", "", t("accept"));
        f.method = "post";
        f.action = root.getAttribute("data-accept").replace(/0{8}-[0-9-]+/, c.id);
        f.appendChild(token.cloneNode());
        b.type = "submit";
        f.appendChild(b);
        list.appendChild(li);
      });
    }
    var socket;
    function connect() {
      socket = new WebSocket(base + "agents/");
      socket.onmessage = function (e) { var d = JSON.parse(e.data); if (d.type === "lobby") { show(d); } };
      socket.onclose = function (e) { if (e.code !== 4403) { setTimeout(connect, 3000); } };
    }
    setInterval(function () {
      if (socket.readyState === 1) { socket.send('{"type":"heartbeat"}'); }
    }, 30000);
    connect();
  }

  document.addEventListener("change", function (e) {
    var o = e.target.matches("[data-chat-canned]") && e.target.selectedOptions[0];
    if (o && o.value) { e.target.form.querySelector("textarea").value = o.getAttribute("data-body"); }
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-chat]"), chat);
  var l = document.querySelector("[data-lobby]");
  if (l) { lobby(l); }
})();
