// kenpo-web: the one script of every screen (vanilla JS, same-origin fetch, nothing inline: CSP).
'use strict';
(() => {
  // reconsent: a completed member agrees to newer terms on /signup/terms before anything else.
  const PAGE_OF = { identity: '/signup/identity', consent: '/signup/identity', reconsent: '/signup/terms', preferences: '/signup/preferences', confirm: '/signup/confirm', completed: '/menu' };
  // The steps each page serves; a member on another step goes to that step's page.
  const SERVES = { identity: ['identity', 'consent'], terms: ['reconsent'], preferences: ['preferences', 'confirm'], confirm: ['confirm'], complete: ['completed'], menu: ['completed'] };
  const GENERIC = 'エラーが発生しました。しばらくしてからもう一度お試しください。';
  const page = document.body.dataset.page;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text) => Object.assign(document.createElement(tag), text ? { textContent: text } : {});

  // The live region (role=alert): text lines and an optional link, never HTML.
  function setAlert(lines, link) {
    const box = $('alert');
    box.replaceChildren(...lines.filter(Boolean).map((l) => el('p', l)));
    if (link) {
      const p = el('p');
      p.append(Object.assign(el('a', link.text), { href: link.href }));
      box.append(p);
    }
  }

  function clearErrors() {
    setAlert([]);
    // A status of an earlier save goes too, so the next one is announced anew.
    if ($('saved')) $('saved').textContent = '';
    document.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
    document.querySelectorAll('.field-error').forEach((e) => { e.textContent = ''; e.hidden = true; });
  }

  // Marks the field's inputs invalid, shows the message next to it; returns the input to focus.
  function fieldError(name, message) {
    const inputs = document.querySelectorAll(`[data-field="${name}"]`);
    inputs.forEach((i) => i.setAttribute('aria-invalid', 'true'));
    const err = $(`${name}-error`);
    if (err && message) { err.textContent = message; err.hidden = false; }
    return [...inputs].find((i) => i.checked) || inputs[0];
  }

  // Field errors, then the message in the live region, then the focus on the first field at fault
  // on the screen (the answer lists fields in another order).
  function showError(e, extra) {
    const inputs = Object.entries(e.fields || {}).map(([name, msg]) => fieldError(name, msg)).filter(Boolean);
    inputs.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    setAlert([e.message, ...(extra || [])], e.link);
    (inputs[0] || $('alert')).focus();
  }

  async function api(method, path, data) {
    const init = { method, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
    if (data !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(data);
    }
    try {
      const res = await fetch(path, init);
      const json = await res.json().catch(() => null);
      if (res.ok) return { ok: true, data: json || {} };
      return { status: res.status, error: json?.error || { code: `http_${res.status}`, message: GENERIC }, retryAfter: res.headers.get('Retry-After') };
    } catch {
      return { status: 0, error: { code: 'network', message: '通信できませんでした。インターネット接続を確認して、もう一度お試しください。' } };
    }
  }

  // What any call may answer: no session (401), or a step that moved on (another tab). True if handled.
  function common(r) {
    if (r.status === 401) {
      document.querySelectorAll('.needs-session').forEach((e) => { e.hidden = true; });
      showError({ message: r.error.message, link: { href: document.body.dataset.portal || '/', text: 'ポータルからもう一度入る' } });
      return true;
    }
    const to = (r.error.code === 'wrong_step' || r.error.code === 'onboarding_required') && PAGE_OF[r.error.step];
    if (to && to !== location.pathname) { location.replace(to); return true; }
    return false;
  }

  // Runs `work` on submit/click, ignoring repeats while it runs; `work` returns a page to go to.
  function onSubmit(target, type, work) {
    let busy = false;
    const button = $('submit');
    target.addEventListener(type, async (ev) => {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      button.setAttribute('aria-disabled', 'true');
      clearErrors();
      const next = await work();
      if (next) { location.assign(next); return; } // stays busy until the next page replaces this one
      busy = false;
      button.removeAttribute('aria-disabled');
    });
  }

  // Japan time of now + seconds, rounded up to the minute: 「11月26日 9時05分」.
  function japanTimeAfter(seconds) {
    const at = new Date(Math.ceil((Date.now() + seconds * 1000) / 60000) * 60000);
    const p = {};
    new Intl.DateTimeFormat('ja-JP', { timeZone: 'Asia/Tokyo', month: 'numeric', day: 'numeric', hour: 'numeric', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(at).forEach(({ type, value }) => { p[type] = value; });
    return `${p.month}月${p.day}日 ${p.hour}時${p.minute}分`;
  }

  // ---- 本人確認画面
  function identity(status) {
    let step = status.step;
    const show = () => {
      const done = step === 'consent';
      $('identity-fields').hidden = done;
      $('identity-done').hidden = !done;
      $('insurerNumber').disabled = $('birthDate').disabled = done;
    };
    show();
    $('identity-form').hidden = false;
    onSubmit($('identity-form'), 'submit', async () => {
      const agreed = $('agreed-yes').checked;
      const missing = {};
      if (step === 'identity') {
        if (!$('insurerNumber').value.trim()) missing.insurerNumber = '保険者番号を入力してください。';
        if (!$('birthDate').value.trim()) missing.birthDate = '生年月日を入力してください。';
      }
      if (!agreed) missing.agreed = '「同意する」を選んでください。';
      if (Object.keys(missing).length) {
        showError({ message: '入力内容をご確認ください。', fields: missing },
          agreed ? [] : ['ご利用には利用規約等への同意が必要です。内容をお読みのうえ「同意する」を選んでから「確認」を押してください。']);
        return null;
      }
      if (step === 'identity') {
        const r = await api('POST', '/api/signup/identity', { insurerNumber: $('insurerNumber').value, birthDate: $('birthDate').value });
        // wrong_step with consent: another tab verified already, so carry on with the consent.
        if (!r.ok && !(r.error.code === 'wrong_step' && r.error.step === 'consent')) {
          if (common(r)) return null;
          const e = r.error;
          if (e.code === 'identity_mismatch') {
            // The message says how many attempts are left: once.
            fieldError('birthDate');
            showError({ message: e.message, fields: { insurerNumber: '' } });
          } else if (e.code === 'locked') {
            const seconds = Number(e.retryAfterSeconds || r.retryAfter || 0);
            showError({ message: e.message }, [seconds > 0 && `${japanTimeAfter(seconds)}（日本時間）以降にもう一度お試しください。`]);
          } else {
            showError(e);
          }
          return null;
        }
        step = 'consent';
        show();
      }
      return agree();
    });
  }

  // 同意する: the agreement to the terms this screen shows; the page to go to next, or null.
  async function agree() {
    const c = await api('POST', '/api/signup/consent', { termsVersion: $('terms').dataset.termsVersion, agreed: true });
    if (c.ok) return PAGE_OF[c.data.step] || '/signup/preferences';
    if (!common(c)) {
      if (c.error.code === 'terms_outdated') c.error.link = { href: location.pathname, text: '画面を再読み込みする' };
      showError(c.error);
    }
    return null;
  }

  // ---- 利用規約等の更新 (reconsent: newer terms for a member who completed the onboarding)
  function terms() {
    $('terms-form').hidden = false;
    onSubmit($('terms-form'), 'submit', async () => {
      if (!$('agreed-yes').checked) {
        showError({ message: '入力内容をご確認ください。', fields: { agreed: '「同意する」を選んでください。' } },
          ['引き続きご利用いただくには、更新後の利用規約等への同意が必要です。内容をお読みのうえ「同意する」を選んでから「確認」を押してください。']);
        return null;
      }
      return agree();
    });
  }

  // ---- メールアドレス・医療費通知 (個人情報入力画面 and the top page)
  function fillPreferences(p) {
    if (!p) return;
    $('email').value = p.email || '';
    $(p.notifyMedicalExpenses ? 'notify-yes' : 'notify-no').checked = true;
  }

  function showPreferences(p) {
    $('show-email').textContent = p?.email || '登録なし';
    $('show-notify').textContent = p?.notifyMedicalExpenses ? '必要' : '不要';
  }

  // `reverify`: the top page's birth-date field, asked for when the address changes (the server
  // decides; the field is shown as soon as the typed address differs from the saved one).
  function preferencesForm(saved, reverify) {
    onSubmit($('preferences-form'), 'submit', async () => {
      const email = $('email').value.trim();
      const body = { email: email || null, notifyMedicalExpenses: $('notify-yes').checked };
      if (reverify && !reverify.hidden) body.birthDate = $('birthDate').value.trim() || null;
      const r = await api('PUT', '/api/signup/preferences', body);
      if (r.ok) return saved(r.data);
      if (common(r)) return null;
      const e = r.error;
      if (reverify && ['reverification_required', 'identity_mismatch', 'locked'].includes(e.code)) reverify.hidden = false;
      if (e.code === 'identity_mismatch') {
        showError({ message: '生年月日が登録内容と一致しません。', fields: { birthDate: '生年月日をご確認ください。' } }, [`残りの入力可能回数：${e.remainingAttempts}回`]);
      } else if (e.code === 'locked') {
        const seconds = Number(e.retryAfterSeconds || r.retryAfter || 0);
        showError({ message: e.message }, [seconds > 0 && `${japanTimeAfter(seconds)}（日本時間）以降にもう一度お試しください。`]);
      } else {
        showError(e);
      }
      return null;
    });
  }

  function preferences(status) {
    fillPreferences(status.preferences);
    $('preferences-form').hidden = false;
    preferencesForm((reply) => PAGE_OF[reply.step] || '/signup/confirm');
  }

  // ---- 入力確認画面
  // 実行 confirms the version shown; another tab's later save answers stale_confirmation with
  // what is stored now, which this screen then shows for a second look.
  function confirm(status) {
    if (!status.preferences) { location.replace('/signup/preferences'); return; }
    let version = status.version;
    showPreferences(status.preferences);
    $('content').hidden = false;
    onSubmit($('submit'), 'click', async () => {
      const r = await api('POST', '/api/signup/confirm', { version });
      if (r.ok) return '/signup/complete';
      if (common(r)) return null;
      if (r.error.code === 'stale_confirmation') {
        version = r.error.version;
        if (!r.error.preferences) return '/signup/preferences';
        showPreferences(r.error.preferences);
      }
      showError(r.error);
      return null;
    });
  }

  // ---- オンラインサインアップ完了画面
  function complete(status) {
    const email = status.preferences?.email;
    if (email) $('show-email').textContent = email;
    $('welcome-mail').hidden = !email;
    $('no-mail').hidden = !!email;
    $('content').hidden = false;
  }

  // ---- トップページ
  const PROBLEM = {
    bounced: '登録のメールアドレスにメールが届きませんでした（宛先不明など）。',
    complained: '登録のメールアドレスで、当組合からのメールが迷惑メールとして報告されました。',
    rejected: '登録のメールアドレスにはメールを送信できませんでした。',
  };
  const yen = (n) => `${Number(n).toLocaleString('ja-JP')}円`;
  const jaDate = (d) => d.split('-').map(Number).map((n, i) => n + '年月日'[i]).join('');

  // The statements summary (GET /api/statements/summary); 403 access_expired hides the lists.
  function summary(s) {
    const d = s.ok && s.data;
    const expired = s.error?.code === 'access_expired';
    $('expired').hidden = !expired;
    document.querySelectorAll('.needs-access').forEach((e) => { e.hidden = expired; });
    document.querySelectorAll('.figures').forEach((e) => { e.hidden = !d; });
    $('summary-error').hidden = !!d || expired;
    $('latest').hidden = !d;
    $('access-until').hidden = !d?.accessUntil;
    if (!d) return;
    const n = d.newInLatest || {};
    $('latest').textContent = d.latestPublication
      ? `${jaDate(d.latestPublication)}に新しい情報を掲載しました（医療費 ${n.medicalLines || 0}件・給付金 ${n.benefits || 0}件）。`
      : 'まだ掲載された情報はありません。';
    document.querySelectorAll('.this-year').forEach((e) => { e.textContent = d.year; });
    $('self-pay').textContent = yen(d.selfPayThisYear);
    $('benefits-total').textContent = yen(d.benefitsThisYear);
    if (d.accessUntil) $('access-until').textContent = `資格喪失後のご利用期間は${jaDate(d.accessUntil)}までです。`;
  }

  function menu(status, s) {
    if (!s.ok && common(s)) return;
    summary(s);
    $('summary-retry').addEventListener('click', async () => {
      const again = await api('GET', '/api/statements/summary');
      if (again.ok || !common(again)) summary(again);
      if (again.ok) { $('latest').tabIndex = -1; $('latest').focus(); }
    });
    showPreferences(status.preferences);
    fillPreferences(status.preferences);
    const problem = PROBLEM[status.emailProblem];
    if (problem) {
      $('email-problem').textContent = problem + 'お知らせを再開するには、メールアドレスをご確認のうえ「変更する」を押してください。';
      $('email-problem').hidden = false;
      $('change').open = true;
    }
    $('content').hidden = false;
    let savedEmail = status.preferences?.email || '';
    const reverify = $('reverify');
    // Any change of a saved address, or a first one, asks for the birth date (removing one too:
    // the old address is told). The server decides; this only shows the field in time.
    $('email').addEventListener('input', () => {
      const typed = $('email').value.trim();
      reverify.hidden = typed === savedEmail;
    });
    preferencesForm((reply) => {
      $('email-problem').hidden = true;
      showPreferences(reply.preferences);
      savedEmail = reply.preferences.email || '';
      $('birthDate').value = '';
      reverify.hidden = true;
      $('saved').textContent = '通知メールの設定を変更しました。';
      $('change').open = false;
      return null;
    }, reverify);
  }

  const SCREENS = { identity, terms, preferences, confirm, complete, menu };

  (async () => {
    if (!SCREENS[page]) return;
    // The top page asks for the statements summary at the same time.
    const [r, s] = await Promise.all([api('GET', '/api/signup'), page === 'menu' && api('GET', '/api/statements/summary')]);
    if (r.ok && !SERVES[page].includes(r.data.step) && PAGE_OF[r.data.step]) { location.replace(PAGE_OF[r.data.step]); return; }
    $('loading').hidden = true;
    if (r.ok) SCREENS[page](r.data, s);
    else if (r.status === 401 && page === 'menu') $('signed-out').hidden = false;
    else if (!common(r)) setAlert([r.error.message]);
  })();
})();
