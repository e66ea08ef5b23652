// Login: post the form as JSON; on success go to the user's home view; every failure (wrong
// password, throttled, a server or proxy error page, no connection) is said under the form.
import { answer, send } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const data = Object.fromEntries(new FormData(form));
  try {
    const body = await answer(await send("/api/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(data),
    }));
    window.location.assign("/" + body.home);
  } catch (err) {
    error.textContent = err.message || "登录失败";
  }
});
