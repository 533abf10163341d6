// The onboarding screens in headless Debian Chromium, driven by their Japanese labels the way a
// member would use them, against `kenpo dev` (embedded store, file outbox) started by the test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ARTIFACTS, axeReport, checkScreen, launchBrowser, outboxMails, phone, startServer, waitFor, weighPages,
} from './helpers.js';

/** The whole flow's budget: every byte the real screens transfer, from the identity check to the top page. */
const FLOW_BUDGET_BYTES = 50 * 1000;

let server;
let browser;
const pageWeight = { screens: [], flowTotalBytes: 0, budgetBytes: FLOW_BUDGET_BYTES };

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'page-weight.json'), `${JSON.stringify(pageWeight, null, 2)}\n`);
  writeFileSync(join(ARTIFACTS, 'axe.json'), `${JSON.stringify(axeReport, null, 2)}\n`);
});

const path = (page) => new URL(page.url()).pathname;

async function login(page, member) {
  await page.goto(`${server.base}/dev/portal`);
  await page.getByRole('button', { name: `${member} としてログイン` }).click();
}

/** Problems other than the API's expected 4xx answers, which Chromium logs as failed loads. */
function unexpected(problems) {
  return problems.filter((p) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(p));
}

/** Press Tab until the focused element matches `selector` (keyboard only); asserts a visible focus outline. */
async function tabTo(page, selector, max = 20) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) {
      const outline = await page.evaluate(() => {
        const s = getComputedStyle(document.activeElement);
        return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
      });
      assert.ok(outline.style !== 'none' && outline.width >= 2, `focus on ${selector} has a visible outline (${JSON.stringify(outline)})`);
      return;
    }
  }
  assert.fail(`Tab never reached ${selector}`);
}

/** GET /api/signup with the page's cookies, outside the page (so it is not counted as page weight). */
async function apiStatus(page) {
  const r = await page.context().request.get(`${new URL(page.url()).origin}/api/signup`);
  return r.json();
}

async function apiStep(page) {
  return (await apiStatus(page)).step;
}

describe('onboarding screens', { timeout: 180000 }, () => {
  it('walks the whole flow by the labels at 390×844, and the welcome mail arrives', async (t) => {
    const { context, page, problems } = await phone(browser);
    const weights = await weighPages(context, page);

    await page.goto(`${server.base}/dev/portal`);
    await checkScreen(t, assert, page, '01-dev-portal');
    await page.getByRole('button', { name: 'D0001 としてログイン' }).click();
    await page.waitForURL('**/signup/identity');

    const session = (await context.cookies()).find((c) => c.name === '__Host-kenpo_session');
    assert.ok(session, 'Chromium stores the __Host- session cookie on http://127.0.0.1');
    assert.equal(session.secure, true);
    assert.equal(session.httpOnly, true);
    assert.equal(session.expires, -1, 'a browser-session cookie: it ends when the browser closes');

    // 本人確認画面
    await page.getByRole('heading', { level: 1, name: '本人確認画面' }).waitFor();
    await page.getByLabel('保険者番号').waitFor();
    const terms = page.getByRole('region', { name: '注意事項・免責事項・セキュリティポリシー等' });
    const termsText = await terms.textContent();
    assert.match(termsText, /この利用規約はひな形です。健康保険組合が配備時に差し替えます。/);
    const { termsVersion } = await apiStatus(page);
    assert.ok(termsText.includes(termsVersion), `the terms show version ${termsVersion}`);
    assert.equal(await terms.getAttribute('tabindex'), '0');
    assert.ok(await page.getByRole('radio', { name: '同意しない' }).isChecked(), '同意しない is the default');
    assert.equal(await page.getByLabel('保険者番号').getAttribute('inputmode'), 'numeric');
    assert.equal(await page.getByLabel('生年月日').getAttribute('autocomplete'), 'off');
    await checkScreen(t, assert, page, '02-identity');

    // A wrong birth date: the mismatch and the attempts left are on the page.
    await page.getByLabel('保険者番号').fill('06133946');
    await page.getByLabel('生年月日').fill('19800101');
    await page.getByRole('radio', { name: '同意する', exact: true }).check();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.getByText(/あと4回誤ると/).waitFor();
    assert.match(await alert.textContent(), /一致しません/);
    assert.equal((await alert.textContent()).match(/4回/g).length, 1, 'the attempts left, once');
    // Which members use which number (a 特例退職 member who typed the other one).
    assert.match(await alert.textContent(), /63133946/);
    assert.equal(await page.getByLabel('生年月日').getAttribute('aria-invalid'), 'true');
    await checkScreen(t, assert, page, '03-identity-mismatch');

    // 確認 without 同意する: an error, and nothing is sent.
    await page.getByLabel('生年月日').fill('19810403');
    await page.getByRole('radio', { name: '同意しない' }).check();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await page.locator('#agreed-error').getByText('「同意する」を選んでください。').waitFor();
    assert.match(await alert.textContent(), /同意が必要です/);
    assert.equal(path(page), '/signup/identity');
    assert.equal(await apiStep(page), 'identity');
    assert.equal(await page.getByRole('radio', { name: '同意する', exact: true }).getAttribute('aria-invalid'), 'true');
    await checkScreen(t, assert, page, '04-identity-consent-required');

    await page.getByRole('radio', { name: '同意する', exact: true }).check();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await page.waitForURL('**/signup/preferences');

    // 個人情報入力画面
    await page.getByRole('heading', { level: 1, name: '個人情報入力画面' }).waitFor();
    const email = page.getByLabel('メールアドレス（任意）');
    await email.waitFor();
    assert.equal(await email.getAttribute('type'), 'email');
    assert.equal(await email.getAttribute('autocomplete'), 'email');
    assert.match(await page.locator('main').textContent(), /「kenpo\.example」からのメールを受信できるよう設定を変更してください/);
    assert.match(await page.locator('main').textContent(), /個人のメールアドレスをおすすめします/);
    await checkScreen(t, assert, page, '05-preferences');
    await email.fill('taro.yamada@example.jp');
    await page.getByRole('radio', { name: '必要' }).check();
    await page.getByRole('button', { name: '入力内容確認' }).click();
    await page.waitForURL('**/signup/confirm');

    // 入力確認画面
    await page.getByRole('heading', { level: 1, name: '入力確認画面' }).waitFor();
    await page.getByText('taro.yamada@example.jp').waitFor();
    assert.equal(await page.locator('#show-notify').textContent(), '必要');
    assert.match(await page.locator('main').textContent(), /通知情報更新時のメール通知/);
    await checkScreen(t, assert, page, '06-confirm');

    // 戻る keeps what was typed.
    await page.getByRole('link', { name: '戻る' }).click();
    await page.waitForURL('**/signup/preferences');
    await page.waitForFunction(() => document.getElementById('email')?.value !== '');
    assert.equal(await email.inputValue(), 'taro.yamada@example.jp');
    assert.ok(await page.getByRole('radio', { name: '必要' }).isChecked());
    await page.getByRole('button', { name: '入力内容確認' }).click();
    await page.waitForURL('**/signup/confirm');
    await page.getByText('taro.yamada@example.jp').waitFor();
    await page.getByRole('button', { name: '実行' }).click();
    await page.waitForURL('**/signup/complete');

    // オンラインサインアップ完了画面
    await page.getByRole('heading', { level: 1, name: 'オンラインサインアップ完了画面' }).waitFor();
    await page.getByText('オンラインサインアップが完了しました。').waitFor();
    assert.match(await page.locator('#welcome-mail').textContent(), /taro\.yamada@example\.jp/);
    await checkScreen(t, assert, page, '07-complete');
    await page.getByRole('link', { name: 'メニューへ' }).click();
    await page.waitForURL('**/menu');

    // トップページ
    await page.getByRole('heading', { level: 1, name: 'トップページ' }).waitFor();
    await page.locator('#show-email').getByText('taro.yamada@example.jp').waitFor();
    assert.match(await page.locator('header').textContent(), /医療費と給付金支給額/);
    await page.getByRole('heading', { name: '医療費のお知らせ' }).waitFor();
    await page.getByRole('heading', { name: '給付金支給額' }).waitFor();
    await checkScreen(t, assert, page, '08-menu');

    const mail = await waitFor(() => outboxMails(server.outbox).find((m) => m.subject.includes('ようこそ')));
    assert.ok(mail, 'a welcome mail (subject contains ようこそ) is in the outbox');
    assert.match(mail.to, /taro\.yamada@example\.jp/);

    await page.goto(`${server.base}/dev/outbox`);
    await page.getByRole('heading', { level: 2, name: /ようこそ/ }).waitFor();
    await checkScreen(t, assert, page, '09-dev-outbox');

    const screens = weights();
    pageWeight.screens = screens;
    pageWeight.flowTotalBytes = screens.filter((s) => !s.screen.startsWith('/dev/')).reduce((n, s) => n + s.bytes, 0);
    assert.ok(pageWeight.flowTotalBytes > 0);
    assert.ok(pageWeight.flowTotalBytes < FLOW_BUDGET_BYTES, `the flow transferred ${pageWeight.flowTotalBytes} bytes (budget ${FLOW_BUDGET_BYTES})`);
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('a visitor without a session sees the way back to the portal', async (t) => {
    const { context, page, problems } = await phone(browser);
    await page.goto(`${server.base}/menu`);
    await page.getByRole('heading', { name: 'ログインしてください' }).waitFor();
    const link = page.getByRole('link', { name: 'ポータルへ' });
    assert.equal(await link.getAttribute('href'), '/dev/portal');
    await checkScreen(t, assert, page, '10-menu-signed-out');

    await page.goto(`${server.base}/signup/identity`);
    await page.getByRole('alert').getByRole('link', { name: 'ポータルからもう一度入る' }).waitFor();
    assert.ok(!(await page.getByLabel('保険者番号').isVisible()), 'no form without a session');

    await page.goto(`${server.base}/`);
    await page.waitForURL('**/menu');
    await page.getByRole('heading', { name: 'ログインしてください' }).waitFor();
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('pages reached out of order go to the member\'s step; the consent step needs only the terms', async (t) => {
    const { context, page, problems } = await phone(browser);
    await login(page, 'D0003');
    await page.waitForURL('**/signup/identity');
    for (const wrong of ['/signup/confirm', '/signup/preferences', '/signup/complete', '/menu', '/']) {
      await page.goto(`${server.base}${wrong}`);
      await page.waitForURL('**/signup/identity');
      await page.getByLabel('保険者番号').waitFor();
    }

    // Identity verified elsewhere (another tab): only the terms and 同意する remain.
    const step = await page.evaluate(async () => {
      const r = await fetch('/api/signup/identity', {
        method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ insurerNumber: '63133946', birthDate: '19480115' }),
      });
      return (await r.json()).step;
    });
    assert.equal(step, 'consent');
    await page.reload();
    await page.getByText('本人確認は完了しています。').waitFor();
    assert.ok(!(await page.getByLabel('保険者番号').isVisible()));
    await checkScreen(t, assert, page, '11-identity-consent-step');
    await page.getByRole('radio', { name: '同意する', exact: true }).check();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await page.waitForURL('**/signup/preferences');

    // No address and 必要: the field says why; then 不要 without an address.
    await page.getByLabel('メールアドレス（任意）').waitFor();
    await page.getByRole('radio', { name: '必要' }).check();
    await page.getByRole('button', { name: '入力内容確認' }).click();
    await page.locator('#email-error').getByText('メールアドレスを入力してください').waitFor();
    assert.equal(await page.getByLabel('メールアドレス（任意）').getAttribute('aria-invalid'), 'true');
    await checkScreen(t, assert, page, '12-preferences-error');
    await page.getByRole('radio', { name: '不要' }).check();
    await page.getByRole('button', { name: '入力内容確認' }).click();
    await page.waitForURL('**/signup/confirm');
    await page.locator('#show-email').getByText('登録なし').waitFor();
    assert.equal(await page.locator('#show-notify').textContent(), '不要');
    await page.goto(`${server.base}/signup/identity`);
    await page.waitForURL('**/signup/confirm');
    await page.getByRole('button', { name: '実行' }).click();
    await page.waitForURL('**/signup/complete');
    await page.getByText('メールアドレスは登録されていません。').waitFor();
    await page.goto(`${server.base}/signup/identity`);
    await page.waitForURL('**/menu');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('works with the keyboard alone, and reflows at 320 px (1280 px at 400 %)', async (t) => {
    const { context, page, problems } = await phone(browser, { width: 320, height: 640 });
    await login(page, 'D0002');
    await page.waitForURL('**/signup/identity');
    await page.getByLabel('保険者番号').waitFor();
    await checkScreen(t, assert, page, '20-identity-320px');

    await tabTo(page, '#insurerNumber');
    await page.keyboard.type('０６１３３９４６'); // full-width digits, as a Japanese keyboard types them
    await tabTo(page, '#birthDate');
    await page.keyboard.type('1979-08-22');
    await tabTo(page, '#terms');
    await tabTo(page, 'input[name=agreed]');
    await page.keyboard.press('ArrowUp');
    assert.ok(await page.getByRole('radio', { name: '同意する', exact: true }).isChecked());
    await tabTo(page, '#submit');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/signup/preferences');
    await page.getByLabel('メールアドレス（任意）').waitFor();

    await tabTo(page, '#email');
    await page.keyboard.type('hanako..yamada@docomo.ne.jp');
    await tabTo(page, '#submit');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/signup/confirm');
    await page.getByText('hanako..yamada@docomo.ne.jp').waitFor();
    await checkScreen(t, assert, page, '21-confirm-320px');
    await tabTo(page, '#submit');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/signup/complete');
    await page.getByRole('link', { name: 'メニューへ' }).waitFor();
    await tabTo(page, 'a[href="/menu"]');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/menu');
    await page.locator('#show-email').getByText('hanako..yamada@docomo.ne.jp').waitFor();
    await checkScreen(t, assert, page, '22-menu-320px');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('a completed member changes the address on the top page (640 px: 1280 px at 200 %)', async (t) => {
    const { context, page, problems } = await phone(browser, { width: 640, height: 400 });
    await login(page, 'D0005');
    await page.waitForURL('**/menu');
    await page.locator('#show-email').getByText('d0005@example.jp').waitFor();
    await page.getByText('メールアドレス・通知の設定を変更する').click();
    // The choice alone needs no birth date.
    await page.getByRole('radio', { name: '不要' }).check();
    assert.ok(!(await page.getByLabel('生年月日（本人確認）').isVisible()));
    await page.getByRole('button', { name: '変更する' }).click();
    await page.getByRole('status').getByText('通知メールの設定を変更しました。').waitFor();
    assert.equal(await page.locator('#show-notify').textContent(), '不要');
    // A new address: the birth date is asked for (re-verification), a wrong one is counted.
    await page.getByText('メールアドレス・通知の設定を変更する').click();
    await page.getByLabel('メールアドレス（任意）').fill('new.address@example.jp');
    const birth = page.getByLabel('生年月日（本人確認）');
    await birth.waitFor();
    await page.getByRole('button', { name: '変更する' }).click();
    await page.locator('#birthDate-error').getByText('生年月日を入力してください。').waitFor();
    assert.equal(await birth.getAttribute('aria-invalid'), 'true');
    await birth.fill('19920228');
    await page.getByRole('button', { name: '変更する' }).click();
    await page.getByRole('alert').getByText('残りの入力可能回数：4回').waitFor();
    assert.equal(await page.locator('#show-email').textContent(), 'd0005@example.jp', 'unchanged');
    await checkScreen(t, assert, page, '31-menu-reverify-640px');
    await birth.fill('19920229');
    await page.getByRole('button', { name: '変更する' }).click();
    await page.getByRole('status').getByText('通知メールの設定を変更しました。').waitFor();
    // The previous address is told, without the new one.
    const notice = await waitFor(() => outboxMails(server.outbox).find((m) => m.subject.includes('メールアドレスが変更されました')));
    assert.ok(notice, 'a notice to the previous address is in the outbox');
    assert.match(notice.to, /d0005@example\.jp/);
    assert.ok(!JSON.stringify(notice).includes('new.address'), 'the notice never names the new address');
    assert.equal(await page.locator('#show-email').textContent(), 'new.address@example.jp');
    assert.equal(await page.locator('#show-notify').textContent(), '不要');
    assert.equal(await apiStep(page), 'completed');
    await checkScreen(t, assert, page, '30-menu-changed-640px');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('with two fields wrong the first one on the screen gets the focus; a 特例退職 member is told which number is theirs', async (t) => {
    // Its own dev server: D0003 onboards in another test of the shared one.
    const own = await startServer();
    const { context, page, problems } = await phone(browser);
    await page.goto(`${own.base}/dev/portal`);
    await page.getByRole('button', { name: 'D0003 としてログイン' }).click();
    await page.waitForURL('**/signup/identity');
    await page.getByLabel('保険者番号').fill('0613394');
    await page.getByLabel('生年月日').fill('1981');
    await page.getByRole('radio', { name: '同意する', exact: true }).check();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await page.locator('#birthDate-error').waitFor();
    await page.locator('#insurerNumber-error').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'insurerNumber', 'the phone scrolls to the first field, not the second');
    // The other number of the society (a 特例退職 member types the one on most cards), written with
    // EM DASHes (U+2014: Shift_JIS 0x815C in one of its mappings) and with the right birth date.
    await page.getByLabel('保険者番号').fill('0613\u20143946');
    await page.getByLabel('生年月日').fill('1948\u201401\u201415');
    await page.getByRole('button', { name: '確認', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.getByText(/あと4回誤ると/).waitFor();
    const text = await alert.textContent();
    assert.match(text, /特例退職/);
    assert.match(text, /63133946/);
    assert.match(text, /459/);
    await checkScreen(t, assert, page, '05-identity-other-number');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
    await own.stop();
  });

  it('after repeated mismatches the identity check says until when it is locked (Japan time)', async (t) => {
    const { context, page, problems } = await phone(browser);
    await login(page, 'D0004');
    await page.waitForURL('**/signup/identity');
    await page.getByLabel('保険者番号').fill('06133946');
    await page.getByLabel('生年月日').fill('19000101');
    await page.getByRole('radio', { name: '同意する', exact: true }).check();
    const alert = page.getByRole('alert');
    for (let left = 4; left >= 1; left -= 1) {
      await page.getByRole('button', { name: '確認', exact: true }).click();
      await alert.getByText(new RegExp(`あと${left}回誤ると`)).waitFor();
    }
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await alert.getByText(/\d+月\d+日 \d+時\d{2}分（日本時間）以降にもう一度お試しください。/).waitFor();
    await checkScreen(t, assert, page, '40-identity-locked');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('two tabs: 実行 never confirms what the other tab changed unseen', async (t) => {
    // Its own dev server: every first-login demo member has onboarded above.
    const own = await startServer();
    const { context, page, problems } = await phone(browser);
    await page.goto(`${own.base}/dev/portal`);
    await page.getByRole('button', { name: 'D0002 としてログイン' }).click();
    await page.waitForURL('**/signup/identity');
    await page.getByLabel('保険者番号').fill('06133946');
    await page.getByLabel('生年月日').fill('19790822');
    await page.getByRole('radio', { name: '同意する', exact: true }).check();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await page.waitForURL('**/signup/preferences');
    await page.getByLabel('メールアドレス（任意）').fill('first.tab@example.jp');
    await page.getByRole('button', { name: '入力内容確認' }).click();
    await page.waitForURL('**/signup/confirm');
    await page.getByText('first.tab@example.jp').waitFor();
    // The second tab (same browser, same session) saves another address.
    const other = await context.newPage();
    await other.goto(`${own.base}/signup/preferences`);
    await other.getByLabel('メールアドレス（任意）').fill('second.tab@example.jp');
    await other.getByRole('button', { name: '入力内容確認' }).click();
    await other.waitForURL('**/signup/confirm');
    await page.getByRole('button', { name: '実行' }).click();
    await page.getByRole('alert').getByText(/別の画面で入力内容が変更されました/).waitFor();
    await page.locator('#show-email').getByText('second.tab@example.jp').waitFor();
    assert.equal(path(page), '/signup/confirm');
    assert.equal(await apiStep(page), 'confirm', 'nothing was confirmed');
    await checkScreen(t, assert, page, '50-confirm-stale');
    await page.getByRole('button', { name: '実行' }).click();
    await page.waitForURL('**/signup/complete');
    assert.match(await page.locator('#welcome-mail').textContent(), /second\.tab@example\.jp/);
    assert.deepEqual(unexpected(problems), []);
    await context.close();
    await own.stop();
  });

  it('ログアウト ends the session on the server: a copy of the cookie is refused afterwards', async (t) => {
    const { context, page, problems } = await phone(browser);
    await login(page, 'D0006');
    await page.waitForURL('**/menu');
    await page.getByRole('button', { name: 'ログアウト' }).waitFor();
    const copied = (await context.cookies()).find((c) => c.name === '__Host-kenpo_session');
    await page.getByRole('button', { name: 'ログアウト' }).click();
    await page.waitForURL('**/dev/portal');
    assert.equal((await context.cookies()).find((c) => c.name === '__Host-kenpo_session'), undefined, 'the cookie is gone');
    // Someone who copied the cookie before the logout, in another browser.
    const thief = await browser.newContext();
    await thief.addCookies([copied]);
    const stolen = await thief.newPage();
    const r = await stolen.request.get(`${server.base}/api/signup`);
    assert.equal(r.status(), 401);
    await stolen.goto(`${server.base}/menu`);
    await stolen.getByRole('heading', { name: 'ログインしてください' }).waitFor();
    await thief.close();
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('new terms: a completed member agrees on 利用規約等の更新 before the top page, once', async (t) => {
    const { context, page, problems } = await phone(browser);
    await login(page, 'D0007');
    await page.waitForURL('**/signup/terms');
    await page.getByRole('heading', { level: 1, name: '利用規約等の更新' }).waitFor();
    for (const elsewhere of ['/menu', '/medical-expenses', '/signup/identity']) {
      await page.goto(`${server.base}${elsewhere}`);
      await page.waitForURL('**/signup/terms');
    }
    await page.getByRole('region', { name: '注意事項・免責事項・セキュリティポリシー等' }).waitFor();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await page.locator('#agreed-error').getByText('「同意する」を選んでください。').waitFor();
    await checkScreen(t, assert, page, '60-terms');
    await page.getByRole('radio', { name: '同意する', exact: true }).check();
    await page.getByRole('button', { name: '確認', exact: true }).click();
    await page.waitForURL('**/menu');
    await page.getByRole('heading', { level: 1, name: 'トップページ' }).waitFor();
    assert.equal(await apiStep(page), 'completed');
    await page.goto(`${server.base}/signup/terms`);
    await page.waitForURL('**/menu');
    assert.equal(outboxMails(server.outbox).filter((m) => m.to.includes('d0007')).length, 0, 'no welcome mail for agreeing again');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  // Last: after every member above onboarded, re-onboarded (D0004), changed settings (D0005) or
  // agreed again (D0007), the dev server's welcome feed has dead-lettered nothing.
  it('no false dead letters after every flow above', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const file = join(server.outbox, 'dead-letters.jsonl');
    assert.ok(!existsSync(file), existsSync(file) ? readFileSync(file, 'utf8') : '');
  });
});
