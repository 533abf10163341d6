// kenpo-web: the statement lists, 医療費のお知らせ (/medical-expenses) and 給付金支給額 (/benefits).
// Vanilla JS, same-origin fetch only, nothing inline (CSP). Every figure on the page comes from
// the API's answer; the script formats, never computes a benefit or a line it was not sent.
'use strict';
(() => {
  const page = document.body.dataset.page;
  const API = { 'medical-expenses': '/api/medical-expenses', benefits: '/api/benefits' };
  if (!API[page]) return;
  // The onboarding step's screen (as app.js): a member who has not finished it is sent there.
  const STEP_PAGE = { identity: '/signup/identity', consent: '/signup/identity', reconsent: '/signup/terms', preferences: '/signup/preferences', confirm: '/signup/confirm', completed: '/menu' };
  const GENERIC = 'エラーが発生しました。しばらくしてからもう一度お試しください。';
  const NETWORK = '通信できませんでした。インターネット接続を確認して、もう一度お試しください。';
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  /** An element with attributes (`text` sets textContent) and children (strings or nodes). */
  function el(tag, attrs, ...kids) {
    const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    });
    kids.flat().forEach((k) => { if (k !== null && k !== undefined && k !== false) e.append(k); });
    return e;
  }
  /** A `<div><dt>label</dt><dd>value</dd></div>` pair of a description list. */
  const pair = (label, value, cls) => el('div', { class: cls }, el('dt', { text: label }), el('dd', { text: value }));

  // ---- formats: 12,345円, 2026年8月31日, 2026年8月
  const yen = (n) => `${Number(n).toLocaleString('ja-JP')}円`;
  const jaDate = (d) => { const [y, m, day] = d.split('-').map(Number); return `${y}年${m}月${day}日`; };
  const jaMonth = (ym) => { const [y, m] = ym.split('-').map(Number); return `${y}年${m}月`; };
  /** Today in Japan, `YYYY-MM-DD` (for 支払日 予定). */
  function japanToday() {
    const p = {};
    new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(new Date()).forEach(({ type, value }) => { p[type] = value; });
    return `${p.year}-${p.month}-${p.day}`;
  }

  async function api(path) {
    try {
      const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
      const json = await res.json().catch(() => null);
      if (res.ok && json) return { ok: true, data: json };
      return { status: res.status, error: json?.error || { code: `http_${res.status}`, message: GENERIC } };
    } catch {
      return { status: 0, error: { code: 'network', message: NETWORK } };
    }
  }

  // ---- state: the filters live in the URL query (?year=YYYY&person=NN), so reload and back work.
  function wanted() {
    const q = new URLSearchParams(location.search);
    return { year: q.get('year') || '', person: q.get('person') || '' };
  }
  function queryOf({ year, person }) {
    const q = new URLSearchParams();
    if (year) q.set('year', year);
    if (person) q.set('person', person);
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  let seq = 0; // the latest request; older answers are dropped
  let lastAnswer = null;
  let loadedSearch = null; // the query the page shows (a jump to #about changes only the fragment)

  async function load(filters) {
    const mine = ++seq;
    loadedSearch = location.search;
    const results = $('results');
    results.setAttribute('aria-busy', 'true');
    $('apply').setAttribute('aria-disabled', 'true');
    if (lastAnswer) $('result-status').textContent = '読み込み中…';
    const r = await api(API[page] + queryOf(filters));
    if (mine !== seq) return;
    results.removeAttribute('aria-busy');
    $('apply').removeAttribute('aria-disabled');
    $('loading').hidden = true;
    if (r.ok) {
      // 再読み込み or 条件をはじめに戻す had the focus: it goes to what was read, not to the page's top.
      const refocus = $('problem').contains(document.activeElement);
      $('problem').hidden = true;
      lastAnswer = r.data;
      show(r.data, filters);
      if (refocus) $('result-status').focus();
    } else {
      failed(r, filters);
    }
  }

  /** 401: the signed-out box; 409: the onboarding step; 403: the period of use has ended; else a message and 再読み込み. */
  function failed(r, filters) {
    const code = r.error.code;
    const hideAll = () => { $('content').hidden = true; $('problem').hidden = true; };
    if (r.status === 401) { hideAll(); $('signed-out').hidden = false; return; }
    if (code === 'onboarding_required' || code === 'wrong_step') { location.replace(STEP_PAGE[r.error.step] || '/signup/identity'); return; }
    if (code === 'access_expired') { hideAll(); $('expired').hidden = false; return; }
    const lines = [r.error.message || GENERIC];
    if (r.status === 422) lines.push('表示する年や受診者の指定が正しくありません。「条件をはじめに戻す」を押してください。');
    $('alert').replaceChildren(...lines.map((l) => el('p', { text: l })));
    $('reset').hidden = r.status !== 422;
    $('retry').hidden = r.status === 422;
    $('retry').onclick = () => load(filters);
    $('result-status').textContent = '';
    // No results of other filters are left under the message.
    $('results').hidden = true;
    $('problem').hidden = false;
    $('alert').focus();
  }

  // ---- the filters: 年 and 受診者 (すべての方 + each person the API lists)
  const personName = (persons, no) => {
    const p = persons.find((x) => x.personNo === no);
    return p ? `${p.name}（${p.relation}）` : `番号${no}の方`;
  };

  // With a person chosen the API lists that person's years only; the household's years seen so far
  // stay offered, so another person's or everyone's year can be chosen in one step.
  const knownYears = new Set();

  function fillFilters(d, filters) {
    [...(d.years || []), d.year].forEach((y) => knownYears.add(Number(y)));
    const years = [...knownYears].sort((a, b) => b - a);
    $('year').replaceChildren(...years.map((y) => el('option', { value: String(y), text: `${y}年` })));
    $('year').value = String(d.year);
    const chosen = filters.person || '';
    const persons = d.persons || [];
    const options = [el('option', { value: '', text: 'すべての方' })];
    persons.forEach((p) => options.push(el('option', { value: p.personNo, text: `${p.name}（${p.relation}）` })));
    if (chosen && !persons.some((p) => p.personNo === chosen)) options.push(el('option', { value: chosen, text: `番号${chosen}の方` }));
    $('person').replaceChildren(...options);
    $('person').value = chosen;
  }

  function show(d, filters) {
    fillFilters(d, filters);
    $('signed-out').hidden = true;
    $('expired').hidden = true;
    $('results').hidden = false;
    $('content').hidden = false;
    const who = filters.person ? personName(d.persons || [], filters.person) : 'すべての方';
    (page === 'benefits' ? benefits : medical)(d, who);
  }

  // ---- 医療費のお知らせ
  function medical(d, who) {
    const months = d.months || [];
    const lines = months.reduce((n, m) => n + m.lines.length, 0);
    const persons = d.persons || [];
    $('result-status').textContent = months.length
      ? `${d.year}年診療分（${who}）：${months.length}か月分・${lines}件の明細を表示しています。`
      : `${d.year}年診療分（${who}）：表示する明細はありません。`;
    const empty = !months.length;
    $('empty').hidden = !empty;
    $('overview').hidden = empty;
    $('downloads').hidden = empty;
    $('to-downloads').hidden = empty;
    $('months').replaceChildren();
    if (empty) {
      $('empty').replaceChildren(
        el('p', { text: (d.years || []).length ? `${d.year}年に診療を受けた分の医療費のお知らせはありません（${who}）。` : `掲載されている医療費のお知らせはありません（${who}）。` }),
        el('p', { text: '医療費のお知らせは、受診から、おおむね3か月後に掲載されます。最近の受診分は、まだ載っていないことがあります。' }),
      );
      return;
    }

    // The year: totals, the chart of monthly 自己負担 and the same figures as a table.
    $('overview-title').textContent = `${d.year}年の医療費（${who}）`;
    const sum = (k) => months.reduce((n, m) => n + Number(m.totals[k]), 0);
    $('year-totals').replaceChildren(pair('医療費総額の合計', yen(sum('totalCost'))), pair('自己負担相当額の合計', yen(sum('selfPay'))));
    series = monthlySeries(months);
    seriesTitle = `${d.year}年 月別の自己負担相当額（${who}）`;
    drawChart();
    $('chart-title-visible').textContent = seriesTitle;
    $('chart-table').replaceChildren(chartTable(series, seriesTitle));

    // One block per 診療年月, newest first, as the API sends them.
    $('months').replaceChildren(...months.map((m) => monthBlock(m, persons)));
    $('download-pdf').textContent = `${d.year}年診療分 医療費のお知らせ（PDF）`;
    $('download-pdf').href = `/api/documents/medical-expenses/${d.year}.pdf`;
    $('download-csv').textContent = `${d.year}年診療分 明細（CSV）`;
    $('download-csv').href = `/api/documents/medical-expenses/${d.year}.csv`;
    $('downloads').querySelector('.download-error').hidden = true;
  }

  function monthBlock(m, persons) {
    const id = `month-${m.month}`;
    return el('section', { class: 'month', 'aria-labelledby': id },
      el('h2', { id, text: `${jaMonth(m.month)}診療` }),
      el('ul', { class: 'cards' }, m.lines.map((l) => el('li', { class: 'card line' }, el('dl', {},
        pair('受診者', personName(persons, l.personNo), 'wide who'),
        pair('区分', l.categoryLabel, 'wide'),
        pair('医療機関', l.institutionName || '—', 'wide'),
        pair('日数', `${l.days}日`, 'num'),
        pair('医療費総額', yen(l.totalCost), 'num'),
        pair('自己負担相当額', yen(l.selfPay), 'num strong'),
        Number(l.publicPaid) > 0 && pair('公費負担額', yen(l.publicPaid), 'num'),
      )))),
      el('dl', { class: 'totals month-totals' },
        pair('医療費総額（この月の合計）', yen(m.totals.totalCost)),
        pair('自己負担相当額（この月の合計）', yen(m.totals.selfPay))));
  }

  // ---- the chart: months in order, oldest first; a month without lines between two with lines is 0円.
  let series = [];
  let seriesTitle = '';

  function monthlySeries(months) {
    const byMonth = new Map(months.map((m) => [m.month, m]));
    const keys = [...byMonth.keys()].sort();
    const out = [];
    if (!keys.length) return out;
    let [y, mo] = keys[0].split('-').map(Number);
    const last = keys[keys.length - 1];
    for (;;) {
      const key = `${y}-${String(mo).padStart(2, '0')}`;
      const m = byMonth.get(key);
      out.push({ month: key, selfPay: m ? Number(m.totals.selfPay) : 0, totalCost: m ? Number(m.totals.totalCost) : 0 });
      if (key >= last) break;
      mo += 1;
      if (mo > 12) { mo = 1; y += 1; }
    }
    return out;
  }

  /** Horizontal bars, one per month, each with its month and amount written beside it. */
  function drawChart() {
    const box = $('chart');
    if (!series.length || box.offsetParent === null) return;
    const width = Math.max(240, Math.min(560, Math.floor(box.clientWidth)));
    const row = 30;
    const labelW = 44;
    const valueW = 92;
    const top = 4;
    const height = top * 2 + series.length * row;
    const max = Math.max(...series.map((s) => s.selfPay));
    const barMax = width - labelW - valueW - 8;
    const highest = series.reduce((a, b) => (b.selfPay > a.selfPay ? b : a));
    const total = series.reduce((n, s) => n + s.selfPay, 0);
    const svg = el('svg:svg', { role: 'img', 'aria-labelledby': 'chart-title', 'aria-describedby': 'chart-desc', width, height, viewBox: `0 0 ${width} ${height}`, class: 'bars' },
      el('svg:title', { id: 'chart-title', text: seriesTitle }),
      el('svg:desc', { id: 'chart-desc', text: `${jaMonth(series[0].month)}診療から${jaMonth(series[series.length - 1].month)}診療までの${series.length}か月分の棒グラフ。最も多いのは${jaMonth(highest.month)}診療の${yen(highest.selfPay)}、合計は${yen(total)}です。同じ数値を「表で見る」で確認できます。` }),
      series.map((s, i) => {
        const y = top + i * row;
        const w = max > 0 ? Math.max(s.selfPay > 0 ? 2 : 0, Math.round((s.selfPay / max) * barMax)) : 0;
        const [, m] = s.month.split('-').map(Number);
        return el('svg:g', {},
          el('svg:text', { x: labelW - 8, y: y + row / 2, class: 'label', 'text-anchor': 'end', 'dominant-baseline': 'central', text: `${m}月` }),
          el('svg:rect', { x: labelW, y: y + 5, width: w, height: row - 10, class: 'bar' }),
          el('svg:text', { x: labelW + w + 6, y: y + row / 2, class: 'value', 'dominant-baseline': 'central', text: yen(s.selfPay) }));
      }));
    box.replaceChildren(svg);
  }

  function chartTable(rows, title) {
    return el('table', {},
      el('caption', { text: title }),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: '診療年月' }), el('th', { scope: 'col', text: '自己負担相当額' }), el('th', { scope: 'col', text: '医療費総額' }))),
      el('tbody', {}, rows.map((s) => el('tr', {}, el('th', { scope: 'row', text: jaMonth(s.month) }), el('td', { class: 'num', text: yen(s.selfPay) }), el('td', { class: 'num', text: yen(s.totalCost) })))));
  }

  // The chart is drawn at the width it has (zoom and rotation change it).
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawChart, 150);
  });

  // ---- 給付金支給額
  function target(b) {
    if (b.serviceMonth) return `${jaMonth(b.serviceMonth)}診療`;
    if (b.periodFrom || b.periodTo) return `${b.periodFrom ? jaDate(b.periodFrom) : ''}〜${b.periodTo ? jaDate(b.periodTo) : ''}`;
    return '—';
  }
  function paidOn(b, today) {
    if (!b.paidOn) return '未定';
    return b.paidOn > today ? `${jaDate(b.paidOn)}（予定）` : jaDate(b.paidOn);
  }

  function benefits(d, who) {
    const list = d.benefits || [];
    const persons = d.persons || [];
    const today = japanToday();
    $('result-status').textContent = list.length
      ? `${d.year}年に支給決定した給付金（${who}）：${list.length}件を表示しています。`
      : `${d.year}年に支給決定した給付金（${who}）：表示する給付金はありません。`;
    $('empty').hidden = list.length > 0;
    $('overview').hidden = !list.length;
    if (!list.length) {
      $('empty').replaceChildren(
        el('p', { text: (d.years || []).length ? `${d.year}年に支給が決まった給付金はありません（${who}）。` : `掲載されている給付金はありません（${who}）。` }),
        el('p', { text: '高額療養費や付加給付は、受診から3か月以上たってから支給が決まることがあります。' }),
      );
      $('benefit-list').replaceChildren();
      return;
    }
    $('overview-title').textContent = `${d.year}年に支給決定した給付金（${who}）`;
    $('year-totals').replaceChildren(pair('支給額の合計', yen(list.reduce((n, b) => n + Number(b.amount), 0))), pair('件数', `${list.length}件`));
    $('benefit-list').replaceChildren(...list.map((b) => {
      const id = `benefit-${b.recordId}`;
      return el('li', { class: 'card benefit' },
        el('h3', { id, text: b.name }),
        el('dl', {},
          pair('受診者', personName(persons, b.personNo), 'wide who'),
          pair('対象', target(b), 'wide'),
          pair('支給額', yen(b.amount), 'wide strong amount'),
          pair('支給決定日', jaDate(b.decidedOn), 'wide'),
          pair('支払日', paidOn(b, today), 'wide'),
          pair('支払方法', b.paymentMethodLabel, 'wide')),
        el('details', { class: 'more' },
          el('summary', {}, '詳細', el('span', { class: 'vh', text: `（${[b.name, b.serviceMonth || b.periodFrom || b.periodTo ? target(b) : ''].filter(Boolean).join('・')}）` })),
          el('dl', {},
            pair('算定基礎額', b.basisAmount === null || b.basisAmount === undefined ? '—' : yen(b.basisAmount), 'wide'),
            pair('医療機関', b.institutionName || '—', 'wide'),
            pair('備考', b.remarks || '—', 'wide remarks')),
          el('p', {}, el('a', { class: 'download', href: `/api/documents/benefits/${encodeURIComponent(b.recordId)}.pdf`, 'aria-describedby': id, text: '支給決定通知書（PDF）をダウンロード' })),
          el('p', { class: 'alert download-error', role: 'alert', hidden: '' })));
    }));
  }

  // ---- downloads: fetched first, so a refusal is a message on the page instead of a JSON file.
  document.addEventListener('click', async (ev) => {
    const a = ev.target.closest?.('a.download');
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    if (a.getAttribute('aria-disabled') === 'true') return;
    a.setAttribute('aria-disabled', 'true');
    const error = a.closest('.card, section').querySelector('.download-error');
    error.hidden = true;
    try {
      const res = await fetch(a.href, { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) {
        const json = await res.json().catch(() => null);
        const r = { status: res.status, error: json?.error || { code: `http_${res.status}` } };
        if (r.status === 401 || r.error.code === 'onboarding_required' || r.error.code === 'access_expired') { failed(r, wanted()); return; }
        error.textContent = res.status === 404 ? 'この書類は、いまはダウンロードできません。' : `ダウンロードできませんでした。${r.error.message || GENERIC}`;
        error.hidden = false;
        return;
      }
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      // RFC 6266: the Japanese filename* wins over the ASCII filename, wherever each stands.
      const disposition = res.headers.get('Content-Disposition') || '';
      const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
      const plain = /filename="?([^";]+)"?/i.exec(disposition);
      const decode = (x) => { try { return decodeURIComponent(x); } catch { return x; } };
      const name = star ? decode(star[1]) : plain ? plain[1] : a.pathname.split('/').pop();
      const save = el('a', { href: url, download: name });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch {
      error.textContent = NETWORK;
      error.hidden = false;
    } finally {
      a.removeAttribute('aria-disabled');
    }
  });

  // ---- start: the filters from the URL; 表示する re-queries and records the new URL (back goes to the previous one).
  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if ($('apply').getAttribute('aria-disabled') === 'true') return;
    const filters = { year: $('year').value, person: $('person').value };
    const url = location.pathname + queryOf(filters);
    if (url !== location.pathname + location.search) history.pushState(null, '', url);
    load(filters);
  });
  window.addEventListener('popstate', () => { if (location.search !== loadedSearch) load(wanted()); });
  $('reset').href = location.pathname;
  $('reset').addEventListener('click', (ev) => {
    ev.preventDefault();
    history.pushState(null, '', location.pathname);
    load(wanted());
  });
  load(wanted());
})();
