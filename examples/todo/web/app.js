// The todo page: plain JavaScript, no dependencies, nothing inline (the
// Content-Security-Policy allows only this file). The session lives in an
// HttpOnly cookie this script never sees; the CSRF token from the login
// (or GET /session) answer goes with every state-changing request.
'use strict';

let csrfToken = null;

const $ = (id) => document.getElementById(id);

function setStatus(text, isError) {
  const status = $('status');
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

// Every request: same-origin cookies, JSON, and No-Auth-Challenge so that a
// 401 never brings up the browser's Basic pop-up.
async function api(method, path, body) {
  const headers = { 'No-Auth-Challenge': 'true', 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (_) { data = null; }
  }
  return { status: response.status, data };
}

function errorMessage(result) {
  const error = result.data && result.data.error;
  if (error && error.message) return error.message;
  return 'request failed (' + result.status + ')';
}

function showSignedOut() {
  csrfToken = null;
  $('signed-in').hidden = true;
  $('whoami').hidden = true;
  $('signed-out').hidden = false;
  $('todos').replaceChildren();
}

function showSignedIn(session) {
  csrfToken = session.csrf_token;
  $('user-email').textContent = session.user.email || session.user.id;
  $('signed-out').hidden = true;
  $('whoami').hidden = false;
  $('signed-in').hidden = false;
}

// A 401 means the session ended (idle, absolute timeout, logout elsewhere).
function handleFailure(result) {
  if (result.status === 401) {
    showSignedOut();
    setStatus('Your session has ended: please log in again.', true);
  } else {
    setStatus(errorMessage(result), true);
  }
}

function renderTodos(todos) {
  const list = $('todos');
  list.replaceChildren();
  for (const todo of todos) {
    const item = document.createElement('li');
    item.dataset.id = String(todo.id);
    if (todo.isComplete) item.classList.add('done');
    const title = document.createElement('span');
    title.className = 'title';
    title.textContent = todo.title; // text, never HTML
    const complete = document.createElement('button');
    complete.type = 'button';
    complete.className = 'complete';
    complete.textContent = todo.isComplete ? 'Reopen' : 'Complete';
    complete.addEventListener('click', () => setComplete(todo.id, !todo.isComplete));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'delete';
    remove.textContent = 'Delete';
    remove.addEventListener('click', () => deleteTodo(todo.id));
    item.append(title, complete, remove);
    list.append(item);
  }
  $('empty').hidden = todos.length !== 0;
}

async function loadTodos() {
  const result = await api('GET', '/todos');
  if (result.status === 200) renderTodos(result.data);
  else handleFailure(result);
}

async function setComplete(id, isComplete) {
  const result = await api('PATCH', '/todos/' + id, { isComplete });
  if (result.status === 200) {
    setStatus(isComplete ? 'Completed.' : 'Reopened.', false);
    await loadTodos();
  } else handleFailure(result);
}

async function deleteTodo(id) {
  const result = await api('DELETE', '/todos/' + id);
  if (result.status === 204) {
    setStatus('Deleted.', false);
    await loadTodos();
  } else handleFailure(result);
}

async function onLogin(event) {
  event.preventDefault();
  const email = $('login-email').value;
  const password = $('login-password').value;
  const result = await api('POST', '/session/login', { email, password });
  $('login-password').value = '';
  if (result.status === 200) {
    showSignedIn(result.data);
    setStatus('Logged in.', false);
    await loadTodos();
  } else {
    setStatus(errorMessage(result), true);
  }
}

async function onSignup(event) {
  event.preventDefault();
  const email = $('signup-email').value;
  const password = $('signup-password').value;
  const result = await api('POST', '/signup', { email, password });
  $('signup-password').value = '';
  if (result.status === 200) {
    $('login-email').value = email;
    setStatus('Account created for ' + email + ': log in.', false);
  } else {
    setStatus(errorMessage(result), true);
  }
}

async function onAdd(event) {
  event.preventDefault();
  const title = $('new-title').value.trim();
  if (!title) return;
  const result = await api('POST', '/todos', { title });
  if (result.status === 200) {
    $('new-title').value = '';
    setStatus('Added.', false);
    await loadTodos();
  } else handleFailure(result);
}

async function onLogout() {
  const result = await api('POST', '/session/logout');
  if (result.status === 204) {
    showSignedOut();
    setStatus('Logged out.', false);
  } else handleFailure(result);
}

// The identity-provider button shows only when the todo has the OpenID
// Connect login configured (GET /auth/oidc answers; 404 otherwise). The
// link is a top-level navigation: the provider's pages, then back to /app
// with a session cookie.
async function showProviderLogin() {
  const result = await api('GET', '/auth/oidc');
  if (result.status === 200 && result.data && typeof result.data.login === 'string'
      && result.data.login.startsWith('/auth/oidc/login')) {
    $('oidc-login').href = result.data.login;
    $('oidc-login-box').hidden = false;
  }
}

async function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('signup-form').addEventListener('submit', onSignup);
  $('add-form').addEventListener('submit', onAdd);
  $('logout').addEventListener('click', onLogout);
  const session = await api('GET', '/session');
  if (session.status === 200) {
    showSignedIn(session.data);
    await loadTodos();
  } else {
    showSignedOut();
  }
  await showProviderLogin();
  document.body.dataset.ready = 'true';
}

document.addEventListener('DOMContentLoaded', start);
