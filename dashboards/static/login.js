// Login: post the form as JSON; on success go to the user's home view.
const form = document.getElementById("login-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  const response = await fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(data),
  });
  const body = await response.json();
  if (!response.ok) {
    document.getElementById("login-error").textContent = body.detail || "登录失败";
    return;
  }
  window.location.assign("/" + body.home);
});
