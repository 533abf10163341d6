// The statement screens against the REAL APIs of `kenpo dev` and its seeded demo statements
// (infra/kenpo/src/seed_statements.rs): a member with dependants reads a month, filters by person,
// opens a benefit; the line hidden at an adult child's request is neither in the page nor in the
// API's answer; a CSV uploaded at /dev/import appears for the right household; a member who left
// sees until when the statements stay readable. (statements.test.js pins the screens to the
// contract with fixtures; this one checks the whole path.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { checkScreen, launchBrowser, outboxMails, phone, runAxe, startServer, waitFor } from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function login(page, member, landing = /\/menu$/) {
  await page.goto(`${server.base}/dev/portal`);
  await page.getByRole('button', { name: `${member} としてログイン` }).click();
  await page.waitForURL(landing);
}

/** The API's answer with the page's own cookie (same origin, as the page's script asks). */
async function api(page, path) {
  const r = await page.request.get(`${server.base}${path}`);
  assert.equal(r.status(), 200, path);
  return r.json();
}

const yen = (n) => `${Number(n).toLocaleString('ja-JP')}円`;

describe('the demo household (D0005, with dependants) on the real APIs', () => {
  it('reads the top page, a month, one person, and a benefit; the hidden line never arrives', async () => {
    const { context, page, problems } = await phone(browser);
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(server.base) && !r.url().startsWith('data:')) outside.push(r.url()); });
    await login(page, 'D0005');

    const summary = await api(page, '/api/statements/summary');
    await page.locator('#self-pay').filter({ hasText: yen(summary.selfPayThisYear) }).waitFor();
    assert.match(await page.locator('#benefits-total').innerText(), new RegExp(yen(summary.benefitsThisYear).replace(/,/g, ',')));

    await page.getByRole('link', { name: '医療費のお知らせを見る' }).click();
    await page.waitForURL(/\/medical-expenses/);
    const list = await api(page, '/api/medical-expenses');
    const newest = list.months[0];
    const [y, m] = newest.month.split('-').map(Number);
    const block = page.locator('section.month').first();
    await block.getByRole('heading', { name: `${y}年${m}月診療` }).waitFor();
    assert.equal(await block.locator('li.card').count(), newest.lines.length, 'every line of the newest month');
    assert.match(await block.locator('.month-totals').innerText(), new RegExp(yen(newest.totals.selfPay)));
    const html = await page.content();
    assert.ok(!html.includes('こころのクリニック'), 'the hidden line is not in the page');
    assert.ok(!JSON.stringify(list).includes('demo-hidden'), 'nor in the API answer');
    assert.ok(!JSON.stringify(list).includes('demo-cancel-0001'), 'a cancelled line is gone');
    await checkScreen(null, assert, page, 'real-medical-expenses');

    // One person: 登録 七海 (子).
    const child = list.persons.find((p) => p.relation === '子');
    await page.selectOption('#person', child.personNo);
    await page.getByRole('button', { name: '表示する' }).click();
    await page.waitForURL(new RegExp(`person=${child.personNo}`));
    const childList = await api(page, `/api/medical-expenses?person=${child.personNo}`);
    await page.locator('section.month').first().waitFor();
    const shownLines = await page.locator('section.month li.card').count();
    assert.equal(shownLines, childList.months.reduce((n, mo) => n + mo.lines.length, 0));
    assert.ok(childList.months.every((mo) => mo.lines.every((l) => l.personNo === child.personNo)));

    // The benefits: open the newest decision's details.
    await page.goto(`${server.base}/benefits`);
    const benefits = await api(page, '/api/benefits');
    const first = page.locator('li.card.benefit').first();
    await first.getByRole('heading', { name: benefits.benefits[0].name }).waitFor();
    await first.locator('summary').click();
    assert.ok(await first.locator('details[open]').count() === 1, 'the details open');
    const violations = await runAxe(page, 'real-benefits');
    assert.deepEqual(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), []);

    assert.deepEqual(outside, [], 'no request leaves the origin');
    assert.deepEqual(problems.filter((p) => !/status of 4\d\d/.test(p)), []);
    await context.close();
  });

  it('downloads the year\'s PDF and CSV from 医療費のお知らせ and a decision\'s PDF from 給付金支給額 on a phone', async () => {
    const { context, page, problems } = await phone(browser);
    await login(page, 'D0005');
    await page.getByRole('link', { name: '医療費のお知らせを見る' }).click();
    await page.waitForURL(/\/medical-expenses/);
    const list = await api(page, '/api/medical-expenses');
    const selfPay = list.months.reduce((n, m) => n + Number(m.totals.selfPay), 0);
    const link = page.getByRole('link', { name: `${list.year}年診療分 医療費のお知らせ（PDF）` });
    await link.scrollIntoViewIfNeeded();
    const [pdf] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(pdf.suggestedFilename(), `医療費のお知らせ_${list.year}年診療分.pdf`);
    const pdfPath = await pdf.path();
    assert.equal(readFileSync(pdfPath).subarray(0, 5).toString(), '%PDF-');
    // What a member copies out of it (poppler's pdftotext): the year, the society, the total paid,
    // every person with lines; never the hidden line.
    const text = execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', pdfPath, '-']).toString().replace(/[ \u3000]+/g, ' ');
    assert.match(text, new RegExp(`医療費のお知らせ（${list.year}年診療分）`));
    assert.match(text, /けんぽ見本健康保険組合/);
    assert.ok(text.includes(`合計（全員） `) && text.includes(yen(selfPay)), `the year's 自己負担 ${yen(selfPay)} in:\n${text}`);
    for (const person of list.persons) assert.ok(text.includes(`療養を受けた者の氏名：${person.name}`), person.name);
    assert.ok(!text.includes('こころのクリニック'), 'the hidden line is not in the PDF');
    assert.ok(!/保険者番号[:：]|記号[:：]/.test(text), 'no insurer number or 記号・番号');

    const csvLink = page.getByRole('link', { name: `${list.year}年診療分 明細（CSV）` });
    const [csv] = await Promise.all([page.waitForEvent('download'), csvLink.click()]);
    assert.equal(csv.suggestedFilename(), `医療費明細_${list.year}年診療分.csv`);
    const csvText = readFileSync(await csv.path()).toString('utf8');
    assert.ok(csvText.startsWith('\ufeff診療年月,'), 'BOM and the Japanese header');
    assert.ok(!csvText.includes('こころのクリニック'));

    await page.goto(`${server.base}/benefits`);
    const benefits = await api(page, '/api/benefits');
    const first = page.locator('li.card.benefit').first();
    await first.locator('summary').click();
    const noticeLink = first.getByRole('link', { name: '支給決定通知書（PDF）をダウンロード' });
    const [notice] = await Promise.all([page.waitForEvent('download'), noticeLink.click()]);
    const b = benefits.benefits[0];
    assert.equal(notice.suggestedFilename(), `給付金支給決定通知書_${b.name}_${b.decidedOn}.pdf`);
    const noticeText = execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', await notice.path(), '-']).toString().replace(/[ \u3000]+/g, ' ');
    assert.match(noticeText, /給付金支給決定通知書/);
    assert.ok(noticeText.includes(b.name) && noticeText.includes(yen(b.amount)), noticeText);
    assert.equal(await page.locator('.download-error:visible').count(), 0, 'no error shown');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('login CSRF: a page on another origin auto-submitting a valid token for another member leaves the session as it was', async () => {
    const { context, page } = await phone(browser);
    await login(page, 'D0005');
    await page.locator('#self-pay').filter({ hasText: '円' }).waitFor();
    // The attacker holds a fresh, valid hand-off token of another member (D0001, the attacker's own
    // account in the reproduction), taken from the portal page.
    await page.goto(`${server.base}/dev/portal`);
    const token = await page.locator('form:has(button:text-is("D0001 としてログイン")) input[name=token]').getAttribute('value');
    assert.ok(token && token.split('.').length === 3, 'a JWT');
    // The attacker's page: another origin (another port of 127.0.0.1), a form that posts itself.
    const evil = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><form method="post" action="${server.base}/sso"><input type="hidden" name="token" value="${token}"></form><script>document.forms[0].submit()</script>`);
    });
    await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const responses = [];
      page.on('response', (r) => { if (r.url().endsWith('/sso')) responses.push(r); });
      await page.goto(`http://127.0.0.1:${evil.address().port}/`);
      await waitFor(() => responses.length > 0);
      assert.equal(responses[0].status(), 403, 'the hand-off from another origin is refused');
      assert.ok(!(await responses[0].headerValue('set-cookie')), 'and sets nothing');
      await page.getByRole('heading').first().waitFor();
    } finally {
      evil.close();
    }
    // Still D0005's session: the top page's figures are D0005's (D0001 has not onboarded: 409).
    const summary = await page.request.get(`${server.base}/api/statements/summary`);
    assert.equal(summary.status(), 200, 'the session is still the completed member D0005');
    await page.goto(`${server.base}/menu`);
    await page.locator('#self-pay').filter({ hasText: '円' }).waitFor();
    await context.close();
  });

  it('ログアウト from the top page ends the session in the browser', async () => {
    const { context, page } = await phone(browser);
    await login(page, 'D0005');
    await page.locator('#self-pay').filter({ hasText: '円' }).waitFor();
    await page.getByRole('button', { name: 'ログアウト' }).click();
    await page.waitForURL(/\/dev\/portal$/);
    const after = await page.request.get(`${server.base}/api/signup`);
    assert.equal(after.status(), 401, 'the browser no longer has a session');
    await page.goto(`${server.base}/menu`);
    await page.getByRole('heading', { name: 'ログインしてください' }).waitFor();
    await context.close();
  });

  it('a member who left sees until when the statements stay readable', async () => {
    const { context, page } = await phone(browser);
    await login(page, 'D0006');
    const summary = await api(page, '/api/statements/summary');
    assert.ok(summary.accessUntil, 'accessUntil is set');
    const [y, m, d] = summary.accessUntil.split('-').map(Number);
    await page.locator('#access-until').filter({ hasText: `${y}年${m}月${d}日` }).waitFor();
    await context.close();
  });

  it('a file uploaded at /dev/import appears for its household only from its publish_on', async () => {
    const { context, page } = await phone(browser);
    const japanDay = (days) => new Date(Date.now() + 9 * 3600 * 1000 + days * 86400 * 1000).toISOString().slice(0, 10).replace(/-/g, '');
    const today = japanDay(0);
    const month = `${today.slice(0, 4)}${today.slice(4, 6)}`;
    const header = 'record_id,action,member_id,person_no,person_name,relation,service_month,category,days,institution_name,total_cost,insurer_paid,public_paid,self_pay,hidden,publish_on';
    const csv = [header,
      `up-1,N,D0005,00,登録 五月,本人,${month},12,1,アップロード内科,7000,4900,0,2100,0,${today}`,
      `up-2,N,D0005,00,登録 五月,本人,${month},12,1,未来掲載クリニック,5000,3500,0,1500,0,${japanDay(40)}`,
    ].join('\r\n');
    await page.goto(`${server.base}/dev/import`);
    await page.setInputFiles('#file', { name: 'upload.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: '取り込む' }).click();
    await page.getByRole('status').filter({ hasText: '2行を反映しました' }).waitFor();
    await login(page, 'D0005');
    await page.goto(`${server.base}/medical-expenses?year=${today.slice(0, 4)}`);
    await page.getByText('アップロード内科').first().waitFor();
    assert.ok(!(await page.content()).includes('未来掲載クリニック'), 'not before its publish_on');
    await login(page, 'D0001', /\/signup\/identity/);
    const other = await page.request.get(`${server.base}/api/medical-expenses`);
    assert.ok(!(await other.text()).includes('アップロード内科'), 'another member never sees it');

    // The upload sent D0005 (医療費通知 必要) one update notice; its link stops them in one click.
    const notice = await waitFor(() => outboxMails(server.outbox).find((m) => m.subject.includes('医療費通知等更新のお知らせ')));
    assert.ok(notice, 'an update notice in the outbox');
    assert.match(notice.to, /d0005@example\.jp/);
    assert.equal(notice.listUnsubscribePost, 'List-Unsubscribe=One-Click');
    const link = /<(https?:[^>]+)>/.exec(notice.listUnsubscribe)[1];
    await page.goto(link);
    await page.getByRole('heading', { level: 1, name: 'お知らせの停止' }).waitFor();
    await page.getByRole('button', { name: 'お知らせを停止する' }).click();
    await page.getByRole('heading', { level: 1, name: 'お知らせを停止しました' }).waitFor();
    await login(page, 'D0005');
    await page.waitForURL('**/menu');
    await page.locator('#show-notify').filter({ hasText: '不要' }).waitFor();
    assert.equal(outboxMails(server.outbox).filter((m) => m.subject.includes('医療費通知等更新のお知らせ')).length, 1, 'one notice');
    await context.close();
  });
});
