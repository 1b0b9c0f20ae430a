// json-api: the typical JSON-over-the-wire endpoint. Parse a request, validate every field,
// compute a little, build a JSON answer. Run it with
//   switchboard serve --handler examples/json-api/handler.ts
// What it models: most of the CPU of a business API goes to JSON.parse, validation and
// JSON.stringify, not to the arithmetic. Each request allocates many short-lived objects and
// strings (the parsed tree, one line object per item, the answer's strings), so the cost that
// matters when choosing a concurrency model is garbage collection: every thread or process has
// its own V8 heap and collects it on its own. One event loop pays every young-generation
// collection in line with the requests it serves; threads and processes spread them (a pool of
// N heaps, each collecting a 1/N share). CPU per request is small (tens of µs), so per-request
// overheads of a model (a message to a worker thread, a copy across processes) show up here.
//
// Ops:
//   0x30 QUOTE  {"customer": "c-12", "currency": "EUR",
//                "items": [{"sku": "A-1", "qty": 2, "unitPrice": 9.5, "category"?: "reduced",
//                           "discountPct"?: 10}, …]}                      (1–50 items)
//               → 0x30 {"customer", "currency",
//                       "lines": [{"sku", "qty", "unitPrice", "discount", "net", "vat", "gross",
//                                  "vatRate"}],
//                       "totals": {"net", "vat", "gross", "discount"}, "lineCount", "itemCount"}
//               Money in the answer is a decimal string with two places ("19.00"), computed in
//               integer cents, rounded half up, so the answer is the same bytes everywhere:
//                 net   = unitCents × qty − discount,  discount = round(unitCents × qty × pct / 100)
//                 vat   = round(net × rate), rate by category: standard 20 %, reduced 5.5 %, zero 0
//                 gross = net + vat;  totals are the sums of the lines; itemCount = Σ qty.
//               Anything malformed → E_BAD_ARGS naming the field, e.g.
//               "items[3].qty: expected a positive integer"; bad JSON → E_BAD_ARGS "bad JSON: …".
// Every other op is answered E_UNKNOWN_OP. Standalone: imports nothing from switchboard.

export const QUOTE = 0x30;

export const MAX_ITEMS = 50;
export const MAX_QTY = 10_000;
export const MAX_UNIT_PRICE = 1_000_000;
export const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF'] as const;
/** VAT rates in basis points (1/100 of a percent). */
export const VAT_BASIS_POINTS: Record<string, number> = { standard: 2000, reduced: 550, zero: 0 };

const SKU = /^[A-Z]{1,4}-[0-9]{1,6}$/;
const CUSTOMER = /^[A-Za-z0-9._-]{1,64}$/;

const fail = (code: string, message: string) => Object.assign(new Error(message), { code });
const badArgs = (message: string) => fail('E_BAD_ARGS', message);

interface Line {
  sku: string;
  qty: number;
  unitPrice: string;
  discount: string;
  net: string;
  vat: string;
  gross: string;
  vatRate: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function onlyFields(obj: Json, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw badArgs(`${where}${where ? '.' : ''}${k}: unexpected field`);
  }
}

/** Cents as "12.34" (or "-0.50"). */
export function money(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** round(a / b) for non-negative integers, half up, in integer arithmetic. */
const divRound = (a: number, b: number) => Math.floor((2 * a + b) / (2 * b));

function cents(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_UNIT_PRICE) {
    throw badArgs(`${where}: expected a number from 0 to ${MAX_UNIT_PRICE}`);
  }
  const c = Math.round(value * 100);
  if (Math.abs(c - value * 100) > 1e-6) throw badArgs(`${where}: at most two decimal places`);
  return c;
}

function line(item: unknown, i: number): Line & { netCents: number; vatCents: number; discountCents: number } {
  const at = `items[${i}]`;
  if (!isObject(item)) throw badArgs(`${at}: expected an object`);
  onlyFields(item, at, ['sku', 'qty', 'unitPrice', 'category', 'discountPct']);
  const { sku, qty, unitPrice, category = 'standard', discountPct = 0 } = item;
  if (typeof sku !== 'string' || !SKU.test(sku)) throw badArgs(`${at}.sku: expected a SKU like "AB-123"`);
  if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1) throw badArgs(`${at}.qty: expected a positive integer`);
  if (qty > MAX_QTY) throw badArgs(`${at}.qty: at most ${MAX_QTY}`);
  const unitCents = cents(unitPrice, `${at}.unitPrice`);
  if (typeof category !== 'string' || !(category in VAT_BASIS_POINTS)) {
    throw badArgs(`${at}.category: expected one of ${Object.keys(VAT_BASIS_POINTS).join(', ')}`);
  }
  if (typeof discountPct !== 'number' || !Number.isInteger(discountPct) || discountPct < 0 || discountPct > 100) {
    throw badArgs(`${at}.discountPct: expected an integer from 0 to 100`);
  }
  const rate = VAT_BASIS_POINTS[category]!;
  const listCents = unitCents * qty;
  const discountCents = divRound(listCents * discountPct, 100);
  const netCents = listCents - discountCents;
  const vatCents = divRound(netCents * rate, 10_000);
  return {
    sku,
    qty,
    unitPrice: money(unitCents),
    discount: money(discountCents),
    net: money(netCents),
    vat: money(vatCents),
    gross: money(netCents + vatCents),
    vatRate: `${rate / 100}%`,
    netCents,
    vatCents,
    discountCents,
  };
}

function quote(payload: Buffer) {
  let req: unknown;
  try {
    req = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw badArgs(`bad JSON: ${(err as Error).message}`);
  }
  if (!isObject(req)) throw badArgs('request: expected a JSON object');
  onlyFields(req, '', ['customer', 'currency', 'items']);
  const { customer, currency, items } = req;
  if (typeof customer !== 'string' || !CUSTOMER.test(customer)) throw badArgs('customer: expected 1–64 characters of A-Z a-z 0-9 . _ -');
  if (typeof currency !== 'string' || !(CURRENCIES as readonly string[]).includes(currency)) {
    throw badArgs(`currency: expected one of ${CURRENCIES.join(', ')}`);
  }
  if (!Array.isArray(items) || items.length < 1 || items.length > MAX_ITEMS) throw badArgs(`items: expected an array of 1 to ${MAX_ITEMS} items`);

  const lines: Line[] = [];
  let net = 0;
  let vat = 0;
  let discount = 0;
  let itemCount = 0;
  for (let i = 0; i < items.length; i++) {
    const { netCents, vatCents, discountCents, ...l } = line(items[i], i);
    lines.push(l);
    net += netCents;
    vat += vatCents;
    discount += discountCents;
    itemCount += l.qty;
  }
  return {
    customer,
    currency,
    lines,
    totals: { net: money(net), vat: money(vat), gross: money(net + vat), discount: money(discount) },
    lineCount: lines.length,
    itemCount,
  };
}

export function handle(op: number, payload: Buffer) {
  if (op !== QUOTE) throw fail('E_UNKNOWN_OP', `json-api has no op 0x${op.toString(16)}`);
  return { op, payload: Buffer.from(JSON.stringify(quote(payload)), 'utf8') };
}
