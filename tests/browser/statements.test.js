// The statement screens (トップページ's summary, 医療費のお知らせ, 給付金支給額) in headless Debian
// Chromium, against `kenpo dev` for the pages, the session and the onboarding state, with the
// statements APIs answered from fixtures that follow the contract (statements-fixtures.js), so
// the screens stay pinned to DESIGN.md Part 2 whatever the real data holds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, axeReport, checkScreen, launchBrowser, phone, runAxe, startServer, weighPages } from './helpers.js';
import {
  CATEGORY, EMPTY_HOUSEHOLD, HOUSEHOLD, METHOD, NEVER_SHOWN, NOW, REFUSALS, assertContractShape, benefitsAnswer, medicalAnswer, summaryAnswer,
} from './statements-fixtures.js';

let server;
let browser;
const pageWeight = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'page-weight-statements.json'), `${JSON.stringify(pageWeight, null, 2)}\n`);
  writeFileSync(join(ARTIFACTS, 'axe-statements.json'), `${JSON.stringify(axeReport, null, 2)}\n`);
});

// ---- formats, as the screens must show them ---------------------------------------------------

const yen = (n) => `${Number(n).toLocaleString('ja-JP')}円`;
const jaDate = (d) => { const [y, m, day] = d.split('-').map(Number); return `${y}年${m}月${day}日`; };
const jaMonth = (ym) => { const [y, m] = ym.split('-').map(Number); return `${y}年${m}月`; };
const personLabel = (persons, no) => { const p = persons.find((x) => x.personNo === no); return `${p.name}（${p.relation}）`; };
const path = (page) => { const u = new URL(page.url()); return u.pathname + u.search; };

// ---- the fixture APIs ---------------------------------------------------------------------------

const STATEMENT_API = (url) => ['/api/medical-expenses', '/api/benefits'].includes(url.pathname)
  || url.pathname.startsWith('/api/statements/') || url.pathname.startsWith('/api/documents/');

const NOT_FOUND = { status: 404, body: { error: { code: 'not_found', message: '見つかりません。' } } };

/** The fixture answer, checked against the contract's shape before the page sees it. */
function shaped(kind, a) {
  if (a.status === 200) assertContractShape(kind, a.body);
  return a;
}

function answer(household, url) {
  const query = { year: url.searchParams.get('year'), person: url.searchParams.get('person') };
  switch (url.pathname) {
    case '/api/statements/summary': return shaped('summary', summaryAnswer(household));
    case '/api/medical-expenses': return shaped('medical', medicalAnswer(household, query));
    case '/api/benefits': return shaped('benefits', benefitsAnswer(household, query));
    default: {
      const doc = /^\/api\/documents\/(medical-expenses|benefits)\/([^/]+)\.(pdf|csv)$/.exec(url.pathname);
      if (!doc) return NOT_FOUND;
      const [, kind, id, ext] = doc;
      // A benefit's notice exists only for a visible decision (hidden or unpublished: 404).
      if (kind === 'benefits' && !household.benefits.some((b) => b.recordId === id && !b.hidden && b.publishOn <= '2026-11-29')) return NOT_FOUND;
      return { status: 200, file: { ext, name: `${kind}-${id}.${ext}` } };
    }
  }
}

/**
 * A phone (390×844 unless `size`) logged in as `name` through the dev portal, its clock at NOW
 * (Japan), the statements APIs answered from `household`; `api.refuse(url)` may answer instead
 * (one-shot refusals return null after use). Every request the context makes is recorded.
 */
async function signedIn({ name = 'D0005', household = HOUSEHOLD, size, login = true } = {}) {
  const { context, page, problems } = await phone(browser, size);
  await context.clock.setFixedTime(NOW);
  const api = { household, calls: [], refuse: null };
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  await context.route((url) => STATEMENT_API(url), async (route) => {
    const url = new URL(route.request().url());
    api.calls.push(url.pathname + url.search);
    const a = api.refuse?.(url) || answer(api.household, url);
    if (a.file) {
      const type = a.file.ext === 'pdf' ? 'application/pdf' : 'text/csv; charset=utf-8';
      await route.fulfill({ status: 200, contentType: type, headers: { 'Content-Disposition': `attachment; filename="${a.file.name}"` }, body: a.file.ext === 'pdf' ? '%PDF-1.7\n%fixture\n' : 'record_id\n' });
      return;
    }
    await route.fulfill({ status: a.status, contentType: 'application/json', body: JSON.stringify(a.body) });
  });
  if (login) {
    await page.goto(`${server.base}/dev/portal`);
    await page.getByRole('button', { name: `${name} としてログイン` }).click();
    await page.waitForURL(/\/(menu|signup\/identity)$/);
  }
  return { context, page, problems, api, requests };
}

/** One refusal for requests to `pathname` (then the fixtures answer again). */
function once(pathname, refusal) {
  let used = false;
  return (url) => {
    if (used || url.pathname !== pathname) return null;
    used = true;
    return refusal;
  };
}

/** Problems other than the expected 4xx/5xx answers, which Chromium logs as failed loads. */
function unexpected(problems) {
  return problems.filter((p) => !/Failed to load resource: the server responded with a status of [45]\d\d/.test(p));
}

function assertSameOrigin(requests) {
  const outside = requests.filter((u) => !u.startsWith(`${server.base}/`) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(outside, [], 'no request leaves the origin');
}

/** Nothing hidden or unpublished anywhere in the document (text, attributes, hidden parts). */
async function assertNothingHidden(page) {
  const html = await page.content();
  for (const s of NEVER_SHOWN) assert.ok(!html.includes(s), `"${s}" is not in the page`);
}

/** checkScreen (screenshot, axe, no sideways scrolling), and axe finds nothing at all, of any impact. */
async function checkStrict(t, page, name) {
  await checkScreen(t, assert, page, name);
  const last = axeReport.filter((r) => r.screen === name).at(-1);
  assert.deepEqual(last.violations, [], `${name}: axe violations`);
}

/** Press Tab until the focused element matches `selector`; asserts a visible focus outline. */
async function tabTo(page, selector, max = 40) {
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

/** The month blocks as shown: heading, each line's label → value, the month's totals. */
function shownMonths(page) {
  return page.$$eval('section.month', (sections) => sections.map((s) => ({
    heading: s.querySelector('h2').textContent,
    lines: [...s.querySelectorAll('li.line')].map((li) => Object.fromEntries([...li.querySelectorAll('dl > div')].map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent]))),
    totals: Object.fromEntries([...s.querySelectorAll('.month-totals > div')].map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])),
  })));
}

/** What the month blocks must show for a fixture answer. */
function expectedMonths(body) {
  return body.months.map((m) => ({
    heading: `${jaMonth(m.month)}診療`,
    lines: m.lines.map((l) => ({
      受診者: personLabel(body.persons, l.personNo),
      区分: CATEGORY[l.category],
      医療機関: l.institutionName ?? '—',
      日数: `${l.days}日`,
      医療費総額: yen(l.totalCost),
      自己負担相当額: yen(l.selfPay),
      ...(l.publicPaid > 0 ? { 公費負担額: yen(l.publicPaid) } : {}),
    })),
    totals: { '医療費総額（この月の合計）': yen(m.totals.totalCost), '自己負担相当額（この月の合計）': yen(m.totals.selfPay) },
  }));
}

/** The chart: its accessible name, the bars' written labels and amounts; the table's rows. */
async function chartAndTable(page) {
  const chart = await page.$eval('#chart svg', (svg) => ({
    role: svg.getAttribute('role'),
    title: svg.querySelector('title').textContent,
    desc: svg.querySelector('desc').textContent,
    bars: [...svg.querySelectorAll('g')].map((g) => ({ label: g.querySelector('text.label').textContent, value: g.querySelector('text.value').textContent, width: Number(g.querySelector('rect').getAttribute('width')) })),
  }));
  const table = await page.$eval('#chart-table table', (t) => ({
    caption: t.caption.textContent,
    rows: [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent)),
  }));
  return { chart, table };
}

async function selectAndShow(page, { year, person }) {
  if (year) await page.getByLabel(/^(診療年|支給決定年)$/).selectOption(String(year));
  if (person !== undefined) await page.getByLabel('受診者').selectOption(person === '' ? { label: 'すべての方' } : { label: person });
  await page.getByRole('button', { name: '表示する' }).click();
}

async function openAllExplanations(page) {
  const summaries = page.locator('#about summary');
  const n = await summaries.count();
  assert.ok(n >= 3, 'the explanations are there');
  for (let i = 0; i < n; i += 1) {
    await summaries.nth(i).click();
    assert.equal(await summaries.nth(i).evaluate((s) => s.parentElement.open), true);
  }
}

// ---- the tests ----------------------------------------------------------------------------------

describe('statement screens (fixture APIs)', { timeout: 240000 }, () => {
  it('トップページ: the latest publication, this year\'s totals, both lists, the period of use; settings and ログアウト stay', async (t) => {
    const { context, page, problems, api, requests } = await signedIn();
    const s = summaryAnswer(HOUSEHOLD).body;
    // Worked out by hand from the fixture: the hidden and the unpublished lines and benefits do not count.
    assert.equal(s.selfPayThisYear, 120590);
    assert.equal(s.benefitsThisYear, 279750);
    await page.getByText('2026年11月25日に新しい情報を掲載しました（医療費 4件・給付金 2件）。').waitFor();
    assert.equal(await page.locator('#self-pay').textContent(), '120,590円');
    assert.equal(await page.locator('#benefits-total').textContent(), '279,750円');
    assert.match(await page.locator('main').textContent(), /2026年診療分の自己負担相当額/);
    assert.match(await page.locator('main').textContent(), /2026年に支給決定した給付金/);
    assert.ok(!(await page.locator('#access-until').isVisible()), 'no period of use while a member');
    await page.getByRole('heading', { name: '通知メールの設定' }).waitFor();
    await page.getByRole('button', { name: 'ログアウト' }).waitFor();
    await page.getByText('メールアドレス・通知の設定を変更する').click();
    await page.getByRole('button', { name: '変更する' }).waitFor();
    await checkStrict(t, page, 'st-01-menu');

    await page.getByRole('link', { name: '医療費のお知らせを見る' }).click();
    await page.waitForURL('**/medical-expenses');
    await page.getByRole('link', { name: 'トップページ', exact: true }).click();
    await page.waitForURL('**/menu');
    await page.getByRole('link', { name: '給付金支給額を見る' }).click();
    await page.waitForURL('**/benefits');
    await page.getByRole('link', { name: 'トップページへ戻る' }).click();
    await page.waitForURL('**/menu');

    // A member who left: until when the lists can be read.
    api.household = { ...HOUSEHOLD, accessUntil: '2028-03-31' };
    await page.reload();
    await page.getByText('資格喪失後のご利用期間は2028年3月31日までです。').waitFor();

    // A failed read: a message and もう一度読み込む; the lists stay offered.
    api.refuse = once('/api/statements/summary', REFUSALS.internal);
    await page.reload();
    await page.getByText('医療費・給付金の情報を読み込めませんでした。').waitFor();
    assert.ok(await page.getByRole('link', { name: '医療費のお知らせを見る' }).isVisible());
    await checkStrict(t, page, 'st-02-menu-summary-failed');
    await page.getByRole('button', { name: 'もう一度読み込む' }).click();
    await page.locator('#self-pay').getByText('120,590円').waitFor();
    assert.ok(!(await page.getByText('医療費・給付金の情報を読み込めませんでした。').isVisible()));

    // 403 access_expired: the period of use has ended; the lists are not offered; settings and ログアウト stay.
    api.refuse = (url) => (url.pathname === '/api/statements/summary' ? REFUSALS.expired : null);
    await page.reload();
    await page.getByText('ご利用期間が終了しました。').waitFor();
    assert.ok(!(await page.getByRole('link', { name: '医療費のお知らせを見る' }).isVisible()));
    assert.ok(!(await page.getByRole('link', { name: '給付金支給額を見る' }).isVisible()));
    assert.ok(!(await page.locator('#self-pay').isVisible()));
    await page.getByRole('button', { name: 'ログアウト' }).waitFor();
    await page.getByRole('heading', { name: '通知メールの設定' }).waitFor();
    await checkStrict(t, page, 'st-03-menu-access-expired');

    // 409 onboarding_required: to the step's screen (here the identity screen's consent part).
    const visited = [];
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) visited.push(new URL(f.url()).pathname); });
    api.refuse = once('/api/statements/summary', REFUSALS.onboarding('consent'));
    await page.reload();
    await page.waitForURL('**/menu'); // the identity screen finds the member completed and sends them back
    await page.locator('#self-pay').getByText('120,590円').waitFor();
    assert.ok(visited.includes('/signup/identity'), `went to the consent step: ${visited.join(' → ')}`);
    // (ログアウト is clicked against the real server: statements-real.test.js and onboarding.test.js.)
    assert.equal(await page.locator('form.logout').getAttribute('action'), '/logout');

    assert.ok(api.calls.every((c) => c === '/api/statements/summary' || c.startsWith('/api/medical-expenses') || c.startsWith('/api/benefits')), api.calls.join());
    assertSameOrigin(requests);
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('トップページ: nothing published yet, and signed out', async (t) => {
    const { context, page, problems, requests } = await signedIn({ household: EMPTY_HOUSEHOLD });
    await page.getByText('まだ掲載された情報はありません。').waitFor();
    assert.equal(await page.locator('#self-pay').textContent(), '0円');
    assert.equal(await page.locator('#benefits-total').textContent(), '0円');
    await checkStrict(t, page, 'st-04-menu-nothing-yet');
    await context.close();

    const out = await signedIn({ login: false });
    await out.page.goto(`${server.base}/menu`);
    await out.page.getByRole('heading', { name: 'ログインしてください' }).waitFor();
    assert.ok(!(await out.page.getByRole('link', { name: '医療費のお知らせを見る' }).isVisible()));
    assertSameOrigin([...requests, ...out.requests]);
    assert.deepEqual(unexpected([...problems, ...out.problems]), []);
    await out.context.close();
  });

  it('医療費のお知らせ: a household reads a month, filters by person and year; the chart\'s table has the list\'s figures; reload and back keep the filters', async (t) => {
    const { context, page, problems, api, requests } = await signedIn();
    await page.goto(`${server.base}/medical-expenses`);
    const all2026 = medicalAnswer(HOUSEHOLD, { year: null, person: null }).body;
    assert.equal(all2026.year, 2026);
    const status = page.locator('#result-status');
    await status.getByText('2026年診療分（すべての方）：5か月分・10件の明細を表示しています。').waitFor();
    assert.equal(api.calls.at(-1), '/api/medical-expenses', 'the first read takes the API\'s default year');

    // Newest month first; per line 受診者, 区分, 医療機関 (or —), 日数, 医療費総額, 自己負担相当額; month totals.
    assert.deepEqual(await shownMonths(page), expectedMonths(all2026));
    const august = (await shownMonths(page))[0];
    assert.equal(august.heading, '2026年8月診療');
    assert.deepEqual(august.lines.map((l) => l.受診者), ['山田 太郎（本人）', '山田 太郎（本人）', '山田 花子（配偶者）', '山田 一郎（子）']);
    assert.equal(august.lines[3].医療機関, '—', '柔道整復 without an institution');
    assert.equal(august.lines[0].自己負担相当額, '3,700円');
    assert.deepEqual(august.totals, { '医療費総額（この月の合計）': '39,320円', '自己負担相当額（この月の合計）': '11,800円' });
    assert.equal((await shownMonths(page))[1].lines[1].公費負担額, '1,480円', 'a line with 公費 says so');
    const yearTotals = await page.locator('#year-totals').textContent();
    assert.match(yearTotals, /自己負担相当額の合計120,590円/);

    // The chart: an image with a title and description, a bar per month (oldest first, 4月 without lines is 0円),
    // each with its month and amount written; the table has the same figures, which are the list's month totals.
    await page.getByRole('img', { name: '2026年 月別の自己負担相当額（すべての方）', exact: true }).waitFor();
    await page.getByRole('heading', { level: 3, name: '2026年 月別の自己負担相当額（すべての方）' }).waitFor();
    await page.getByText('表で見る', { exact: true }).click();
    const { chart, table } = await chartAndTable(page);
    assert.equal(chart.role, 'img');
    assert.match(chart.desc, /2026年3月診療から2026年8月診療までの6か月分/);
    assert.deepEqual(chart.bars.map((b) => b.label), ['3月', '4月', '5月', '6月', '7月', '8月']);
    assert.equal(chart.bars[1].width, 0);
    assert.equal(table.caption, chart.title);
    assert.deepEqual(table.rows.map((r) => r[1]), chart.bars.map((b) => b.value), 'the table and the chart show the same figures');
    const listTotals = Object.fromEntries((await shownMonths(page)).map((m) => [m.heading.replace('診療', ''), Object.values(m.totals)]));
    for (const [month, selfPay, totalCost] of table.rows) {
      if (listTotals[month]) assert.deepEqual([totalCost, selfPay], listTotals[month], `${month}: table = list`);
      else assert.deepEqual([selfPay, totalCost], ['0円', '0円'], `${month}: no lines`);
    }
    assert.deepEqual(table.rows.filter((r) => listTotals[r[0]]).map((r) => r[0]).reverse(), Object.keys(listTotals));
    await assertNothingHidden(page);
    await checkStrict(t, page, 'st-10-medical-expenses');

    // The person filter: only 花子's lines; the URL keeps it; the hidden child is not offered.
    const people = await page.getByLabel('受診者').locator('option').allTextContents();
    assert.deepEqual(people, ['すべての方', '山田 太郎（本人）', '山田 花子（配偶者）', '山田 一郎（子）']);
    await selectAndShow(page, { person: '山田 花子（配偶者）' });
    await page.waitForURL('**/medical-expenses?year=2026&person=01');
    await status.getByText('2026年診療分（山田 花子（配偶者））：3か月分・3件の明細を表示しています。').waitFor();
    const hanako = medicalAnswer(HOUSEHOLD, { year: '2026', person: '01' }).body;
    assert.deepEqual(await shownMonths(page), expectedMonths(hanako));
    assert.ok((await shownMonths(page)).every((m) => m.lines.every((l) => l.受診者 === '山田 花子（配偶者）')));
    await page.getByRole('img', { name: '2026年 月別の自己負担相当額（山田 花子（配偶者））' }).waitFor();
    await assertNothingHidden(page);

    // Reload keeps the filters (the selects show them, the same query is asked).
    await page.reload();
    await status.getByText('2026年診療分（山田 花子（配偶者））：3か月分・3件の明細を表示しています。').waitFor();
    assert.equal(await page.getByLabel('受診者').inputValue(), '01');
    assert.equal(await page.getByLabel('診療年').inputValue(), '2026');
    assert.equal(api.calls.at(-1), '/api/medical-expenses?year=2026&person=01');

    // The year filter: 2025, still 花子.
    await selectAndShow(page, { year: 2025 });
    await page.waitForURL('**/medical-expenses?year=2025&person=01');
    await status.getByText('2025年診療分（山田 花子（配偶者））：1か月分・1件の明細を表示しています。').waitFor();
    assert.deepEqual(await shownMonths(page), expectedMonths(medicalAnswer(HOUSEHOLD, { year: '2025', person: '01' }).body));

    // Back: the previous filters, then the first page; forward again.
    await page.goBack();
    await page.waitForURL('**/medical-expenses?year=2026&person=01');
    await status.getByText('2026年診療分（山田 花子（配偶者））：3か月分・3件の明細を表示しています。').waitFor();
    assert.equal(await page.getByLabel('診療年').inputValue(), '2026');
    await page.goBack();
    await page.waitForURL(/\/medical-expenses$/);
    await status.getByText('2026年診療分（すべての方）：5か月分・10件の明細を表示しています。').waitFor();
    assert.equal(await page.getByLabel('受診者').inputValue(), '');

    // Every person in turn; none of them shows a hidden line.
    for (const label of people.slice(1)) {
      await selectAndShow(page, { person: label });
      await status.getByText(new RegExp(`（${label.replace(/[()（）]/g, '.')}）`)).waitFor();
      await assertNothingHidden(page);
    }
    await selectAndShow(page, { person: '' });
    await status.getByText('2026年診療分（すべての方）').waitFor();

    // Downloads: the year's PDF and CSV.
    const [pdf] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: '2026年診療分 医療費のお知らせ（PDF）' }).click()]);
    assert.equal(pdf.suggestedFilename(), 'medical-expenses-2026.pdf');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: '2026年診療分 明細（CSV）' }).click()]);
    assert.equal(csv.suggestedFilename(), 'medical-expenses-2026.csv');
    // A refused download is a message on the page, not a JSON file.
    api.refuse = once('/api/documents/medical-expenses/2026.pdf', NOT_FOUND);
    await page.getByRole('link', { name: '2026年診療分 医療費のお知らせ（PDF）' }).click();
    await page.locator('#downloads').getByRole('alert').getByText('この書類は、いまはダウンロードできません。').waitFor();

    // The explanations: lag, amounts, receipts, 医療費控除, dependants (the link at the top jumps there
    // without asking the API again).
    const before = api.calls.length;
    await page.getByRole('link', { name: '金額の見方・医療費控除・ご家族の表示について' }).click();
    await page.waitForURL(/\/medical-expenses\?year=2026#about$/);
    await page.goBack();
    await page.waitForURL(/\/medical-expenses\?year=2026$/);
    assert.equal(api.calls.length, before, 'a jump within the page reads nothing');
    await openAllExplanations(page);
    const about = await page.locator('#about').textContent();
    for (const text of ['おおむね3か月後', '10割', '窓口', '四捨五入', '公費', '高額療養費', '食事代', '医療費通知', '6項目', '実際に支払った医療費', '表示しないことがあります']) {
      assert.ok(about.includes(text), `the explanations mention ${text}`);
    }
    await checkStrict(t, page, 'st-11-medical-expenses-explained');
    await page.getByRole('link', { name: 'トップページへ戻る' }).click();
    await page.waitForURL('**/menu');

    assertSameOrigin(requests);
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('給付金支給額: one card per decision with its details; 予定 and 未定; filters; downloads', async (t) => {
    const { context, page, problems, api, requests } = await signedIn();
    await page.goto(`${server.base}/benefits`);
    const body = benefitsAnswer(HOUSEHOLD, { year: null, person: null }).body;
    const status = page.locator('#result-status');
    await status.getByText('2026年に支給決定した給付金（すべての方）：5件を表示しています。').waitFor();
    const cards = await page.$$eval('li.benefit', (lis) => lis.map((li) => ({
      name: li.querySelector('h3').textContent,
      fields: Object.fromEntries([...li.querySelectorAll(':scope > dl > div')].map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])),
      details: Object.fromEntries([...li.querySelectorAll('details dl > div')].map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])),
    })));
    const target = (b) => (b.serviceMonth ? `${jaMonth(b.serviceMonth)}診療` : `${jaDate(b.periodFrom)}〜${jaDate(b.periodTo)}`);
    assert.deepEqual(cards, body.benefits.map((b) => ({
      name: b.name,
      fields: {
        受診者: personLabel(body.persons, b.personNo), 対象: target(b), 支給額: yen(b.amount), 支給決定日: jaDate(b.decidedOn),
        支払日: b.paidOn ? `${jaDate(b.paidOn)}${b.paidOn > '2026-11-29' ? '（予定）' : ''}` : '未定', 支払方法: METHOD[b.paymentMethod],
      },
      details: { 算定基礎額: b.basisAmount === null ? '—' : yen(b.basisAmount), 医療機関: b.institutionName ?? '—', 備考: b.remarks ?? '—' },
    })));
    // Hand-checked against the contract's order (decidedOn descending, then recordId) and formats.
    assert.deepEqual(cards.map((c) => c.name), ['一部負担還元金', '高額療養費', '傷病手当金', '家族療養付加金', '療養費']);
    assert.equal(cards[1].fields.支払日, '2026年12月10日（予定）');
    assert.equal(cards[2].fields.対象, '2026年6月4日〜2026年6月30日');
    assert.equal(cards[2].fields.支払日, '2026年7月24日');
    assert.equal(cards[4].fields.支払日, '未定');
    assert.equal(cards[1].fields.支払方法, '給与と合わせて（事業主経由）');
    assert.match(await page.locator('#year-totals').textContent(), /支給額の合計279,750円/);
    await assertNothingHidden(page);

    // Details: closed at first; a click opens the first, the keyboard (Tab, Enter) the second.
    const details = page.locator('li.benefit details');
    assert.equal(await details.nth(0).evaluate((d) => d.open), false);
    assert.ok(!(await page.getByText('限度額 区分ウ').isVisible()));
    await details.nth(0).locator('summary').click();
    await page.getByText('80,100円').waitFor();
    assert.equal(await details.nth(0).evaluate((d) => d.open), true);
    await checkStrict(t, page, 'st-20-benefits-details');
    await details.nth(0).locator('a.download').focus();
    await tabTo(page, 'li.benefit:nth-child(2) summary');
    await page.keyboard.press('Enter');
    await page.getByText('限度額 区分ウ').waitFor();
    assert.equal(await details.nth(1).evaluate((d) => d.open), true);
    // Every 詳細 opens; each has its notice's PDF.
    for (let i = 2; i < cards.length; i += 1) {
      await details.nth(i).locator('summary').click();
      assert.equal(await details.nth(i).evaluate((d) => d.open), true);
    }
    const [notice] = await Promise.all([page.waitForEvent('download'), details.nth(1).getByRole('link', { name: '支給決定通知書（PDF）をダウンロード' }).click()]);
    assert.equal(notice.suggestedFilename(), 'benefits-demo-b-2611-kogaku.pdf');
    api.refuse = once('/api/documents/benefits/demo-b-2607-shobyo.pdf', REFUSALS.internal);
    await details.nth(2).getByRole('link', { name: '支給決定通知書（PDF）をダウンロード' }).click();
    await details.nth(2).getByRole('alert').getByText(/ダウンロードできませんでした。/).waitFor();

    // Filters: a child's decisions only; then 2025 for everyone (出産育児一時金, paid to the hospital).
    await selectAndShow(page, { person: '山田 一郎（子）' });
    await page.waitForURL('**/benefits?year=2026&person=02');
    await status.getByText('2026年に支給決定した給付金（山田 一郎（子））：1件を表示しています。').waitFor();
    assert.deepEqual(await page.locator('li.benefit h3').allTextContents(), ['療養費']);
    await selectAndShow(page, { year: 2025, person: '' });
    await page.waitForURL('**/benefits?year=2025');
    await status.getByText('2025年に支給決定した給付金（すべての方）：1件を表示しています。').waitFor();
    const ikuji = await page.locator('li.benefit').textContent();
    assert.match(ikuji, /出産育児一時金/);
    assert.match(ikuji, /医療機関等へ直接/);
    assert.match(ikuji, /支払日未定/);
    await page.goBack();
    await page.waitForURL('**/benefits?year=2026&person=02');
    await status.getByText('2026年に支給決定した給付金（山田 一郎（子））：1件を表示しています。').waitFor();
    await assertNothingHidden(page);

    await page.getByRole('link', { name: '給付の種類・支払日について' }).click();
    await page.waitForURL(/\/benefits\?year=2026&person=02#about$/);
    await openAllExplanations(page);
    const about = await page.locator('#about').textContent();
    for (const text of ['高額療養費', '付加給付', '傷病手当金', '出産手当金', '出産育児一時金', '埋葬料', '療養費', '事業主', '（予定）', '支給決定通知書']) {
      assert.ok(about.includes(text), `the explanations mention ${text}`);
    }
    await checkStrict(t, page, 'st-21-benefits-explained');
    await page.getByRole('link', { name: 'トップページ', exact: true }).click();
    await page.waitForURL('**/menu');
    assertSameOrigin(requests);
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('empty states: nothing published, and a person without lines in a year', async (t) => {
    const { context, page, problems, requests } = await signedIn({ household: EMPTY_HOUSEHOLD });
    await page.goto(`${server.base}/medical-expenses`);
    await page.getByText('掲載されている医療費のお知らせはありません（すべての方）。').waitFor();
    assert.equal(await page.locator('#chart svg').count(), 0);
    assert.ok(!(await page.getByText('表で見る', { exact: true }).isVisible()));
    assert.ok(!(await page.locator('#downloads').isVisible()));
    assert.deepEqual(await page.getByLabel('診療年').locator('option').allTextContents(), ['2026年']);
    assert.deepEqual(await page.getByLabel('受診者').locator('option').allTextContents(), ['すべての方']);
    await checkStrict(t, page, 'st-30-medical-expenses-empty');
    await page.goto(`${server.base}/benefits`);
    await page.getByText('掲載されている給付金はありません（すべての方）。').waitFor();
    assert.equal(await page.locator('li.benefit').count(), 0);
    await checkStrict(t, page, 'st-31-benefits-empty');
    await context.close();

    const other = await signedIn();
    await other.page.goto(`${server.base}/medical-expenses?year=2025&person=02`);
    await other.page.getByText('2025年に診療を受けた分の医療費のお知らせはありません（山田 一郎（子））。').waitFor();
    assert.deepEqual(await other.page.getByLabel('診療年').locator('option').allTextContents(), ['2026年', '2025年']);
    await other.page.goto(`${server.base}/benefits?year=2025&person=00`);
    await other.page.getByText('2025年に支給が決まった給付金はありません（山田 太郎（本人））。').waitFor();
    await checkStrict(t, other.page, 'st-32-benefits-person-empty');
    assertSameOrigin([...requests, ...other.requests]);
    assert.deepEqual(unexpected([...problems, ...other.problems]), []);
    await other.context.close();
  });

  it('refusals on both lists: 401 signed out, 409 to the step, 403 period ended, 422 and 5xx with a way to retry', async (t) => {
    for (const list of ['/medical-expenses', '/benefits']) {
      const { context, page, problems, api, requests } = await signedIn();
      // 401
      api.refuse = (url) => (url.pathname.startsWith('/api/') ? REFUSALS.unauthenticated : null);
      await page.goto(`${server.base}${list}`);
      await page.getByRole('heading', { name: 'ログインしてください' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'ポータルへ' }).getAttribute('href'), '/dev/portal');
      if (list === '/benefits') {
        await page.getByRole('link', { name: 'ポータルへ' }).click();
        await page.waitForURL('**/dev/portal');
        await page.goto(`${server.base}${list}`);
        await page.getByRole('heading', { name: 'ログインしてください' }).waitFor();
      }
      assert.ok(!(await page.getByRole('button', { name: '表示する' }).isVisible()));
      await checkStrict(t, page, `st-40${list.replace('/', '-')}-signed-out`);
      // 403
      api.refuse = (url) => (url.pathname.startsWith('/api/') ? REFUSALS.expired : null);
      await page.reload();
      await page.getByRole('heading', { name: 'ご利用期間が終了しました' }).waitFor();
      assert.ok(!(await page.getByRole('button', { name: '表示する' }).isVisible()));
      await page.getByRole('link', { name: 'トップページへ戻る' }).waitFor();
      await checkStrict(t, page, `st-41${list.replace('/', '-')}-expired`);
      // 422: a year that is not 4 digits (a hand-edited URL); 条件をはじめに戻す
      api.refuse = null;
      await page.goto(`${server.base}${list}?year=20x6`);
      await page.getByRole('alert').getByText('表示する年や受診者の指定が正しくありません。', { exact: false }).waitFor();
      await checkStrict(t, page, `st-42${list.replace('/', '-')}-invalid`);
      await page.getByRole('link', { name: '条件をはじめに戻す' }).click();
      await page.waitForURL(new RegExp(`${list}$`));
      await page.locator('#result-status').getByText('（すべての方）').waitFor();
      // 5xx: a message and もう一度読み込む, which reads again.
      api.refuse = once(`/api${list}`, REFUSALS.internal);
      await selectAndShow(page, { person: '山田 花子（配偶者）' });
      await page.getByRole('alert').getByText('エラーが発生しました。しばらくしてからもう一度お試しください。').waitFor();
      assert.ok(!(await page.locator('#results').isVisible()), 'no stale results under a failed read');
      await checkStrict(t, page, `st-43${list.replace('/', '-')}-failed`);
      await page.getByRole('button', { name: 'もう一度読み込む' }).click();
      await page.locator('#result-status').getByText('（山田 花子（配偶者））').waitFor();
      assert.ok(!(await page.getByRole('button', { name: 'もう一度読み込む' }).isVisible()));
      assertSameOrigin(requests);
      assert.deepEqual(unexpected(problems), []);
      await context.close();
    }

    // 409: a member who has not finished the onboarding goes to the step's screen.
    const { context, page, problems, api } = await signedIn({ name: 'D0002' });
    await page.waitForURL('**/signup/identity');
    api.refuse = (url) => (url.pathname.startsWith('/api/') && url.pathname !== '/api/signup' ? REFUSALS.onboarding('identity') : null);
    for (const list of ['/medical-expenses', '/benefits']) {
      await page.goto(`${server.base}${list}`);
      await page.waitForURL('**/signup/identity');
      await page.getByLabel('保険者番号').waitFor();
    }
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  it('keyboard alone, 320 px and 640 px (200 % zoom): no sideways scrolling, axe clean', async (t) => {
    for (const size of [{ width: 320, height: 640 }, { width: 640, height: 400 }]) {
      const { context, page, problems, requests } = await signedIn({ size });
      await page.goto(`${server.base}/medical-expenses`);
      await page.locator('#result-status').getByText('（すべての方）').waitFor();
      await page.getByText('表で見る', { exact: true }).click();
      await openAllExplanations(page);
      await checkStrict(t, page, `st-50-medical-expenses-${size.width}px`);

      // Keyboard: the person select, 表示する, then back to すべての方.
      await page.locator('h1').click();
      await tabTo(page, '#person');
      await page.keyboard.press('ArrowDown');
      await tabTo(page, '#apply');
      await page.keyboard.press('Enter');
      await page.waitForURL('**/medical-expenses?year=2026&person=00');
      await page.locator('#result-status').getByText('（山田 太郎（本人））').waitFor();

      await page.goto(`${server.base}/benefits`);
      await page.locator('#result-status').getByText('（すべての方）').waitFor();
      await page.locator('h1').click();
      await tabTo(page, 'li.benefit:first-child summary');
      await page.keyboard.press('Enter');
      assert.equal(await page.locator('li.benefit:first-child details').evaluate((d) => d.open), true);
      await page.keyboard.press('Enter');
      assert.equal(await page.locator('li.benefit:first-child details').evaluate((d) => d.open), false);
      await page.keyboard.press('Space');
      assert.equal(await page.locator('li.benefit:first-child details').evaluate((d) => d.open), true);
      await openAllExplanations(page);
      await checkStrict(t, page, `st-51-benefits-${size.width}px`);
      assertSameOrigin(requests);
      assert.deepEqual(unexpected(problems), []);
      await context.close();
    }
  });

  it('page weight per screen (fresh cache, after the hand-off), and axe 0 violations on both lists at 390 px', async () => {
    for (const screen of ['/menu', '/medical-expenses', '/benefits']) {
      const { context, page, requests } = await signedIn();
      await page.goto(`${server.base}/dev/portal`); // leaves the top page the login went to
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.clearBrowserCache'); // the login's top page cached app.css and app.js
      const weights = await weighPages(context, page);
      await page.goto(`${server.base}${screen}`);
      if (screen === '/menu') await page.locator('#self-pay').getByText('円').waitFor();
      else await page.locator('#result-status').getByText('（すべての方）').waitFor();
      await page.waitForLoadState('networkidle');
      const w = weights().find((x) => x.screen === screen);
      assert.ok(w && w.bytes > 0, `${screen} was weighed`);
      pageWeight.push(w);
      if (screen !== '/menu') {
        const violations = await runAxe(page, `st-weight${screen.replace('/', '-')}`);
        assert.deepEqual(violations, [], `${screen}: axe (every impact) finds nothing`);
      }
      assertSameOrigin(requests);
      await context.close();
    }
    console.log('page weight per screen (bytes transferred, fresh cache; API answers are the fixtures):');
    for (const w of pageWeight) console.log(`  ${w.screen.padEnd(18)} ${String(w.bytes).padStart(7)} bytes in ${w.requests} requests`);
  });
});
