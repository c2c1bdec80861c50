// Every page's script. Times the server wrote in UTC are shown in the reader's own time zone
// (the exact value stays in the title). The search box suggests categories and products as one
// types (from the suggest API), and a filter form marked `data-auto` applies each change at
// once, so its Apply button is only needed without scripts. Wide screens open the filters;
// phones show results first.
(function () {
  const zh = document.documentElement.lang === "zh";
  const local = new Intl.DateTimeFormat(zh ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
  for (const t of document.querySelectorAll("time[datetime]")) {
    const at = new Date(t.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    t.title = t.textContent;
    t.textContent = local.format(at);
  }
  const box = document.querySelector("input[data-suggest]");
  const list = document.getElementById("suggestions");
  if (box && list) {
    let timer = null;
    let asked = "";
    const close = () => { list.hidden = true; box.setAttribute("aria-expanded", "false"); };
    const show = (items) => {
      list.replaceChildren();
      for (const s of items) {
        const a = document.createElement("a");
        a.href = s.kind === "category"
          ? "/search?category=" + encodeURIComponent(s.id)
          : "/products/" + encodeURIComponent(s.id);
        a.textContent = (zh && s.text_zh) || s.text;
        if (s.kind === "category") a.className = "category";
        const li = document.createElement("li");
        li.append(a);
        list.append(li);
      }
      list.hidden = items.length === 0;
      box.setAttribute("aria-expanded", String(items.length > 0));
    };
    const ask = async () => {
      const text = box.value.trim();
      if (text === asked) return;
      asked = text;
      if (text === "") return close();
      try {
        const res = await fetch("/api/v1/search/suggest?limit=8&q=" + encodeURIComponent(text));
        if (res.ok && box.value.trim() === text) show((await res.json()).suggestions);
      } catch (_) { close(); }
    };
    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 150); });
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
      if (e.key === "ArrowDown" && !list.hidden) { e.preventDefault(); list.querySelector("a").focus(); }
    });
    list.addEventListener("keydown", (e) => {
      const li = e.target.closest("li");
      if (!li) return;
      if (e.key === "Escape") { close(); box.focus(); }
      const next = e.key === "ArrowDown" ? li.nextElementSibling : e.key === "ArrowUp" ? li.previousElementSibling : null;
      if (next) { e.preventDefault(); next.querySelector("a").focus(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); box.focus(); }
    });
    document.addEventListener("click", (e) => { if (!e.target.closest("form.search")) close(); });
  }

  for (const form of document.querySelectorAll("form[data-auto]")) {
    const apply = form.querySelector("button.apply");
    if (apply) apply.hidden = true;
    form.addEventListener("change", (e) => {
      // A price range is applied when one leaves it, not between its two boxes.
      const group = e.target.type === "text" && e.target.closest("fieldset");
      if (!group) return form.requestSubmit();
      setTimeout(() => { if (!group.contains(document.activeElement)) form.requestSubmit(); }, 0);
    });
  }
  const filters = document.querySelector("details.filters");
  if (filters && window.matchMedia("(min-width: 800px)").matches) filters.open = true;
})();
