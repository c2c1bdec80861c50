// A form's photo picker (`input[type=file][data-upload-into]`): each chosen image is sent to
// /uploads as it is picked (with the form's CSRF token), and its cleaned link is added to the
// form's field named by `data-upload-into`, with a thumbnail to show it worked; a refused file
// says why. Without scripts, links can still be typed into that field.
(function () {
  for (const input of document.querySelectorAll("input[type=file][data-upload-into]")) {
    if (input.dataset.ready) continue;
    input.dataset.ready = "1";
    const form = input.form;
    const target = form.elements[input.dataset.uploadInto];
    const list = input.closest(".upload").querySelector(".previews");
    const say = (text, cls) => {
      const li = document.createElement("li");
      li.textContent = text;
      if (cls) li.className = cls;
      list.append(li);
      return li;
    };
    input.addEventListener("change", async () => {
      for (const file of input.files) {
        const line = say(`${input.dataset.sending} ${file.name}…`);
        try {
          const res = await fetch("/uploads", {
            method: "POST",
            headers: { "content-type": file.type || "application/octet-stream", "x-csrf-token": form.elements._csrf.value },
            body: file,
          });
          const body = await res.json();
          if (!res.ok) {
            line.textContent = `${file.name}: ${body.error.message}`;
            line.className = "error";
            continue;
          }
          target.value = (target.value.trim() ? target.value.trim() + "\n" : "") + body.url;
          const img = document.createElement("img");
          img.src = body.thumbnail_url;
          img.alt = file.name;
          line.textContent = "";
          line.append(img, ` ${input.dataset.added}`);
          line.className = "ok";
        } catch (_) {
          line.textContent = `${file.name}: ${input.dataset.failed}`;
          line.className = "error";
        }
      }
      input.value = "";
    });
  }
})();
