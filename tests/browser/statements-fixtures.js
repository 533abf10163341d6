// Fixture answers of the statements APIs (DESIGN.md Part 2: "HTTP contract, part 2" and "Part 2
// clarifications"), made from a household's stored records by the contract's read rules, so that
// the screens are pinned to the contract until the real APIs exist (and after: these tests stay).
//
// Stored records carry what the API never sends (hidden, publishOn, the member's name); the
// answers below apply: visible = not hidden and publishOn <= today (Japan); `persons` = people
// with visible records of that kind; with `person`, years/months/benefits/totals cover that person
// only; default year = the latest year with data (the current year when there is none); months
// newest first, lines by (personNo, category, recordId); benefits by decidedOn descending, then
// recordId; absent values null; personNo/category/paymentMethod strings; 422 only for a year
// that is not 4 digits or a person that is not 2 digits.

/** The tests' "today": Japan time, fixed in the browser with page.clock. */
export const NOW = new Date('2026-11-29T10:00:00+09:00');
export const TODAY = '2026-11-29';

export const CATEGORY = {
  11: '医科入院', 12: '医科外来', 21: '歯科入院', 22: '歯科外来', 30: '調剤', 40: '訪問看護', 50: '柔道整復', 60: 'はり・きゅう・マッサージ', 90: 'その他',
};
export const METHOD = { 1: '給与と合わせて（事業主経由）', 2: '口座振込', 3: '医療機関等へ直接' };

const PEOPLE = {
  '00': { personName: '山田 太郎', relation: '本人' },
  '01': { personName: '山田 花子', relation: '配偶者' },
  '02': { personName: '山田 一郎', relation: '子' },
  '03': { personName: '山田 次郎', relation: '子' }, // asked the society to hide all his lines
};

/** A medical line as stored (the import's columns); publishOn defaults to the 25th, 3 months on. */
function med(recordId, personNo, month, category, days, institution, totalCost, selfPay, publicPaid = 0, extra = {}) {
  const [y, m] = month.split('-').map(Number);
  const p = new Date(Date.UTC(y, m - 1 + 3, 25));
  const publishOn = p.toISOString().slice(0, 10);
  return {
    recordId, personNo, ...PEOPLE[personNo], month, category: String(category), days, institutionName: institution || null,
    totalCost, insurerPaid: totalCost - publicPaid - selfPay, publicPaid, selfPay, hidden: false, publishOn, ...extra,
  };
}

function ben(recordId, personNo, code, name, fields) {
  return {
    recordId, personNo, ...PEOPLE[personNo], code, name, serviceMonth: null, periodFrom: null, periodTo: null, institutionName: null,
    basisAmount: null, paidOn: null, paymentMethod: '2', remarks: null, hidden: false, ...fields,
  };
}

/** The household: 本人, spouse, two children; a hidden line, a hidden person, a line not yet published. */
export const HOUSEHOLD = {
  accessUntil: null,
  medical: [
    // 2026 (8月 is the latest published 診療年月 on 2026-11-29)
    med('demo-m-2608-a', '00', '2026-08', 12, 2, 'さくら内科クリニック', 12340, 3700),
    med('demo-m-2608-b', '00', '2026-08', 30, 2, 'あおば薬局', 4560, 1370),
    med('demo-m-2608-c', '01', '2026-08', 22, 3, 'みなと歯科医院', 15620, 4690),
    med('demo-m-2608-d', '02', '2026-08', 50, 4, '', 6800, 2040),
    med('demo-m-2608-h', '01', '2026-08', 12, 1, '秘密のレディースクリニック', 8800, 2640, 0, { hidden: true }),
    med('demo-m-2607-a', '01', '2026-07', 12, 1, 'みなと皮ふ科', 5230, 1570),
    med('demo-m-2607-b', '02', '2026-07', 12, 1, 'こども医療センター', 7400, 0, 1480),
    med('demo-m-2606-a', '00', '2026-06', 11, 12, '市立総合病院', 1234560, 87430),
    med('demo-m-2606-b', '00', '2026-06', 12, 3, '市立総合病院', 45600, 13680),
    med('demo-m-2605-a', '01', '2026-05', 12, 2, 'さくら内科クリニック', 9870, 2960),
    // 2026-04: no lines (the chart shows 0円)
    med('demo-m-2603-a', '00', '2026-03', 60, 5, 'はりきゅう治療院', 10500, 3150),
    med('demo-m-2603-b', '03', '2026-03', 12, 2, '心のクリニック', 11200, 3360, 0, { hidden: true }),
    // 2026-09: imported, but published on 2026-12-25
    med('demo-m-2609-a', '00', '2026-09', 12, 1, 'まだ見えない眼科', 3450, 1040),
    // 2025
    med('demo-m-2512-a', '00', '2025-12', 12, 1, 'さくら内科クリニック', 6780, 2030),
    med('demo-m-2511-a', '01', '2025-11', 40, 8, '訪問看護ステーションみどり', 88000, 26400),
    med('demo-m-2505-a', '00', '2025-05', 12, 1, 'さくら内科クリニック', 3210, 960),
  ],
  benefits: [
    ben('demo-b-2611-kogaku', '00', 'KOGAKU', '高額療養費', {
      serviceMonth: '2026-06', institutionName: '市立総合病院', basisAmount: 87430, amount: 7330, decidedOn: '2026-10-20', paidOn: '2026-12-10', paymentMethod: '1', remarks: '限度額 区分ウ', publishOn: '2026-11-25',
    }),
    ben('demo-b-2611-fuka', '00', 'FUKA_HONNIN', '一部負担還元金', {
      serviceMonth: '2026-06', institutionName: '市立総合病院', basisAmount: 80100, amount: 55100, decidedOn: '2026-10-20', paidOn: '2026-12-10', paymentMethod: '1', publishOn: '2026-11-25',
    }),
    ben('demo-b-2607-shobyo', '00', 'SHOBYO', '傷病手当金', {
      periodFrom: '2026-06-04', periodTo: '2026-06-30', amount: 184320, decidedOn: '2026-07-15', paidOn: '2026-07-24', paymentMethod: '2', remarks: '支給日数 27日', publishOn: '2026-07-15',
    }),
    ben('demo-b-2605-kazoku', '01', 'FUKA_KAZOKU', '家族療養付加金', {
      serviceMonth: '2026-02', institutionName: 'みなと歯科医院', basisAmount: 62000, amount: 12000, decidedOn: '2026-05-20', paidOn: '2026-06-10', paymentMethod: '1', publishOn: '2026-05-25',
    }),
    ben('demo-b-2604-ryoyohi', '02', 'RYOYOHI', '療養費', {
      serviceMonth: '2026-03', institutionName: 'こども整形外科', basisAmount: 30000, amount: 21000, decidedOn: '2026-04-08', paymentMethod: '2', remarks: '治療用装具', publishOn: '2026-04-10',
    }),
    ben('demo-b-2604-hidden', '01', 'FUKA_KAZOKU', '家族療養付加金', {
      serviceMonth: '2026-01', institutionName: '秘密のレディースクリニック', amount: 9000, decidedOn: '2026-04-20', paidOn: '2026-05-10', paymentMethod: '1', hidden: true, publishOn: '2026-04-25',
    }),
    ben('demo-b-2612-future', '00', 'KOGAKU', '高額療養費', {
      serviceMonth: '2026-08', amount: 1234, decidedOn: '2026-12-01', paymentMethod: '1', publishOn: '2026-12-05',
    }),
    ben('demo-b-2509-ikuji', '01', 'SHUSSAN_IKUJI', '出産育児一時金', {
      institutionName: 'みなと産婦人科', amount: 500000, decidedOn: '2025-09-10', paidOn: null, paymentMethod: '3', publishOn: '2025-09-25',
    }),
  ],
};

/** Institutions and names the API must never send (hidden, or not yet published). */
export const NEVER_SHOWN = ['秘密のレディースクリニック', '心のクリニック', '山田 次郎', 'まだ見えない眼科', '1,234円'];

export const EMPTY_HOUSEHOLD = { accessUntil: null, medical: [], benefits: [] };

const error = (status, code, message, extra = {}) => ({ status, body: { error: { code, message, ...extra } } });

function checkQuery({ year, person }) {
  if (year !== null && !/^\d{4}$/.test(year)) return error(422, 'invalid_input', '入力内容をご確認ください。', { fields: { year: '年は西暦4桁で指定してください。' } });
  if (person !== null && !/^\d{2}$/.test(person)) return error(422, 'invalid_input', '入力内容をご確認ください。', { fields: { person: '受診者は2桁の番号で指定してください。' } });
  return null;
}

const visible = (r, today) => !r.hidden && r.publishOn <= today;
const personsOf = (records) => [...new Map(records.map((r) => [r.personNo, { personNo: r.personNo, name: r.personName, relation: r.relation }])).values()]
  .sort((a, b) => a.personNo.localeCompare(b.personNo));
const yearsOf = (records, key) => [...new Set(records.map((r) => Number(r[key].slice(0, 4))))].sort((a, b) => b - a);
const cmp = (...keys) => (a, b) => { for (const k of keys) { const c = String(a[k]).localeCompare(String(b[k])); if (c) return c; } return 0; };

/** GET /api/medical-expenses?year&person */
export function medicalAnswer(household, query, today = TODAY) {
  const bad = checkQuery(query);
  if (bad) return bad;
  const all = household.medical.filter((l) => visible(l, today));
  const scoped = query.person ? all.filter((l) => l.personNo === query.person) : all;
  const years = yearsOf(scoped, 'month');
  const year = query.year ? Number(query.year) : (years[0] ?? Number(today.slice(0, 4)));
  const inYear = scoped.filter((l) => Number(l.month.slice(0, 4)) === year);
  const months = [...new Set(inYear.map((l) => l.month))].sort().reverse().map((month) => {
    const lines = inYear.filter((l) => l.month === month).sort(cmp('personNo', 'category', 'recordId')).map((l) => ({
      recordId: l.recordId, personNo: l.personNo, category: l.category, categoryLabel: CATEGORY[l.category], days: l.days,
      institutionName: l.institutionName, totalCost: l.totalCost, insurerPaid: l.insurerPaid, publicPaid: l.publicPaid, selfPay: l.selfPay,
    }));
    return { month, lines, totals: { totalCost: lines.reduce((n, l) => n + l.totalCost, 0), selfPay: lines.reduce((n, l) => n + l.selfPay, 0) } };
  });
  return { status: 200, body: { year, years, persons: personsOf(all), months } };
}

/** GET /api/benefits?year&person */
export function benefitsAnswer(household, query, today = TODAY) {
  const bad = checkQuery(query);
  if (bad) return bad;
  const all = household.benefits.filter((b) => visible(b, today));
  const scoped = query.person ? all.filter((b) => b.personNo === query.person) : all;
  const years = yearsOf(scoped, 'decidedOn');
  const year = query.year ? Number(query.year) : (years[0] ?? Number(today.slice(0, 4)));
  const benefits = scoped.filter((b) => Number(b.decidedOn.slice(0, 4)) === year)
    .sort((a, b) => b.decidedOn.localeCompare(a.decidedOn) || a.recordId.localeCompare(b.recordId))
    .map((b) => ({
      recordId: b.recordId, personNo: b.personNo, code: b.code, name: b.name, serviceMonth: b.serviceMonth, periodFrom: b.periodFrom, periodTo: b.periodTo,
      institutionName: b.institutionName, basisAmount: b.basisAmount, amount: b.amount, decidedOn: b.decidedOn, paidOn: b.paidOn,
      paymentMethod: b.paymentMethod, paymentMethodLabel: METHOD[b.paymentMethod], remarks: b.remarks,
    }));
  return { status: 200, body: { year, years, persons: personsOf(all), benefits } };
}

/** GET /api/statements/summary */
export function summaryAnswer(household, today = TODAY) {
  const lines = household.medical.filter((l) => visible(l, today));
  const benefits = household.benefits.filter((b) => visible(b, today));
  const dates = [...lines, ...benefits].map((r) => r.publishOn).sort();
  const latest = dates.length ? dates[dates.length - 1] : null;
  const year = Number(today.slice(0, 4));
  return {
    status: 200,
    body: {
      latestPublication: latest,
      newInLatest: { medicalLines: lines.filter((l) => l.publishOn === latest).length, benefits: benefits.filter((b) => b.publishOn === latest).length },
      year,
      selfPayThisYear: lines.filter((l) => Number(l.month.slice(0, 4)) === year).reduce((n, l) => n + l.selfPay, 0),
      benefitsThisYear: benefits.filter((b) => Number(b.decidedOn.slice(0, 4)) === year).reduce((n, b) => n + b.amount, 0),
      accessUntil: household.accessUntil,
    },
  };
}

/** The stable refusals every statements API shares. */
export const REFUSALS = {
  unauthenticated: error(401, 'unauthenticated', 'ログインの有効期限が切れました。ポータルからもう一度お入りください。'),
  onboarding: (step) => error(409, 'onboarding_required', 'オンラインサインアップを完了してください。', { step }),
  expired: error(403, 'access_expired', 'ご利用期間が終了しました。'),
  internal: error(500, 'internal_error', 'エラーが発生しました。しばらくしてからもう一度お試しください。'),
};

// ---- the answers' shape, as the contract lists it (every key, nothing else; null, never "") -------

const KEYS = {
  summary: ['latestPublication', 'newInLatest', 'year', 'selfPayThisYear', 'benefitsThisYear', 'accessUntil'],
  medical: ['year', 'years', 'persons', 'months'],
  benefits: ['year', 'years', 'persons', 'benefits'],
  person: ['personNo', 'name', 'relation'],
  month: ['month', 'lines', 'totals'],
  line: ['recordId', 'personNo', 'category', 'categoryLabel', 'days', 'institutionName', 'totalCost', 'insurerPaid', 'publicPaid', 'selfPay'],
  benefit: ['recordId', 'personNo', 'code', 'name', 'serviceMonth', 'periodFrom', 'periodTo', 'institutionName', 'basisAmount', 'amount', 'decidedOn', 'paidOn', 'paymentMethod', 'paymentMethodLabel', 'remarks'],
};

function keys(o, expected, what) {
  const got = Object.keys(o).sort().join();
  if (got !== [...expected].sort().join()) throw new Error(`${what}: keys ${got}`);
  for (const [k, v] of Object.entries(o)) if (v === '' || v === undefined) throw new Error(`${what}.${k} is ${JSON.stringify(v)}`);
}
const is = (ok, what) => { if (!ok) throw new Error(`${what} breaks the contract`); };
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MONTH = /^\d{4}-\d{2}$/;
const yenOk = (n) => Number.isInteger(n) && n >= 0;

/** Throws unless `body` is a 200 answer of `kind` exactly as the contract shapes it. */
export function assertContractShape(kind, body) {
  if (kind === 'summary') {
    keys(body, KEYS.summary, 'summary');
    is(body.latestPublication === null || DATE.test(body.latestPublication), 'latestPublication');
    is(body.accessUntil === null || DATE.test(body.accessUntil), 'accessUntil');
    keys(body.newInLatest, ['medicalLines', 'benefits'], 'newInLatest');
    is(Number.isInteger(body.year) && yenOk(body.selfPayThisYear) && yenOk(body.benefitsThisYear), 'summary figures');
    return;
  }
  keys(body, KEYS[kind], kind);
  is(Number.isInteger(body.year) && body.years.every(Number.isInteger), 'year/years');
  body.persons.forEach((p) => { keys(p, KEYS.person, 'person'); is(/^\d{2}$/.test(p.personNo), 'personNo'); });
  if (kind === 'medical') {
    body.months.forEach((m) => {
      keys(m, KEYS.month, 'month');
      is(MONTH.test(m.month), 'month');
      keys(m.totals, ['totalCost', 'selfPay'], 'totals');
      m.lines.forEach((l) => {
        keys(l, KEYS.line, 'line');
        is(/^\d{2}$/.test(l.personNo) && /^\d{2}$/.test(l.category) && Number.isInteger(l.days), 'line ids');
        is([l.totalCost, l.insurerPaid, l.publicPaid, l.selfPay].every(yenOk), 'line amounts');
      });
    });
  } else {
    body.benefits.forEach((b) => {
      keys(b, KEYS.benefit, 'benefit');
      is(/^[123]$/.test(b.paymentMethod) && Number.isInteger(b.amount) && b.amount > 0 && DATE.test(b.decidedOn), 'benefit');
      is([b.periodFrom, b.periodTo, b.paidOn].every((d) => d === null || DATE.test(d)) && (b.serviceMonth === null || MONTH.test(b.serviceMonth)), 'benefit dates');
    });
  }
}
