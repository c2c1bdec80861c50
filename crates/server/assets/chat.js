// Live conversation: messages and typing arrive over the WebSocket (the session cookie
// authenticates it); everything shown is set as text, never as HTML.
(function () {
  var box = document.getElementById("messages");
  if (!box) return;
  var conversation = box.dataset.conversation;
  var me = box.dataset.side;
  var typing = document.getElementById("typing");
  var seen = {};
  box.querySelectorAll("[data-seq]").forEach(function (el) { seen[el.dataset.seq] = true; });
  var cursor = box.dataset.cursor || "";
  var lastTyping = 0;

  function add(m) {
    if (m.conversation_id !== conversation || seen[m.seq]) return;
    seen[m.seq] = true;
    var li = document.createElement("li");
    li.dataset.seq = m.seq;
    li.className = m.side === me ? "mine" : "theirs";
    li.textContent = m.text;
    box.appendChild(li);
    typing.textContent = "";
    li.scrollIntoView({ block: "end" });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/api/v1/ws" + (cursor ? "?cursor=" + cursor : ""));
    ws.onmessage = function (e) {
      var f = JSON.parse(e.data);
      if (f.type === "event") {
        cursor = f.event.cursor;
        if (f.event.type === "message.created") add(f.event.payload);
      } else if (f.type === "typing" && f.conversation_id === conversation) {
        typing.textContent = typing.dataset.text;
        setTimeout(function () { typing.textContent = ""; }, 3000);
      }
    };
    ws.onclose = function () { setTimeout(connect, 2000); };
    var input = document.querySelector("form.send textarea");
    if (input) {
      input.addEventListener("input", function () {
        var now = Date.now();
        if (ws.readyState === 1 && now - lastTyping > 1500) {
          lastTyping = now;
          ws.send(JSON.stringify({ type: "typing", conversation_id: conversation }));
        }
      });
    }
    window.soukChat = ws;
  }
  connect();
})();
