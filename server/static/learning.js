// The concept page's learned/starred buttons: sent with fetch when script runs (the forms
// post without it). Every listener is attached here; the page's CSP allows no inline script.
const labels = {
  learned: (on) => (on ? "✓ learned" : "mark learned"),
  starred: (on) => (on ? "★ starred" : "☆ star"),
};
const objectPath = (key) => key.split("/").map(encodeURIComponent).join("/");

for (const form of document.querySelectorAll("form.mark")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = form.dataset.field;
    const input = form.querySelector("input[type=hidden]");
    const button = form.querySelector("button");
    const status = document.querySelector("#learning .mark-status");
    const wanted = input.value === "true";
    button.disabled = true;
    try {
      const response = await fetch(`/api/progress/${objectPath(form.dataset.key)}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ [field]: wanted }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        status.textContent = body.error?.message ?? `HTTP ${response.status}`;
        return;
      }
      const mark = await response.json();
      const on = Boolean(mark[field]);
      input.value = on ? "false" : "true";
      button.textContent = labels[field](on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      status.textContent = "saved";
    } catch (error) {
      status.textContent = `not saved: ${error}`;
    } finally {
      button.disabled = false;
    }
  });
}
