// Checks for examples/json-api/mix.json (the mix's "checks" module): each takes the request as
// sent and the answer, and returns true or a string saying what is wrong. They re-derive what
// they can from the request, independently of handler.ts.

interface Request {
  op: number;
  payload: Buffer;
  kind: string;
}
interface Answer {
  op: number;
  payload: Buffer;
}

const MONEY = /^-?[0-9]+\.[0-9]{2}$/;

function cents(s: unknown, where: string): number {
  if (typeof s !== 'string' || !MONEY.test(s)) throw new Error(`${where}: ${JSON.stringify(s)} is not an amount like "12.34"`);
  return Math.round(Number(s) * 100);
}

/**
 * A valid quote: op 0x30, one line per requested item in order (sku and qty echoed), per line
 * gross = net + vat, totals = the sums of the lines, itemCount = Σ qty, customer and currency
 * echoed.
 */
export function quoteTotals(request: Request, answer: Answer): true | string {
  if (answer.op !== request.op) return `answered op 0x${answer.op.toString(16)}: ${answer.payload.toString('utf8').slice(0, 200)}`;
  try {
    const req = JSON.parse(request.payload.toString('utf8'));
    const res = JSON.parse(answer.payload.toString('utf8'));
    if (res.customer !== req.customer) return `customer ${JSON.stringify(res.customer)}, sent ${JSON.stringify(req.customer)}`;
    if (res.currency !== req.currency) return `currency ${JSON.stringify(res.currency)}, sent ${JSON.stringify(req.currency)}`;
    if (!Array.isArray(res.lines) || res.lines.length !== req.items.length) return `${res.lines?.length} lines for ${req.items.length} items`;
    if (res.lineCount !== req.items.length) return `lineCount ${res.lineCount}, sent ${req.items.length} items`;
    let net = 0;
    let vat = 0;
    let discount = 0;
    let qty = 0;
    for (let i = 0; i < res.lines.length; i++) {
      const l = res.lines[i];
      const item = req.items[i];
      if (l.sku !== item.sku || l.qty !== item.qty) return `lines[${i}] is ${l.sku} × ${l.qty}, sent ${item.sku} × ${item.qty}`;
      const n = cents(l.net, `lines[${i}].net`);
      const v = cents(l.vat, `lines[${i}].vat`);
      const d = cents(l.discount, `lines[${i}].discount`);
      if (cents(l.gross, `lines[${i}].gross`) !== n + v) return `lines[${i}]: gross ${l.gross} ≠ net ${l.net} + vat ${l.vat}`;
      if (cents(l.unitPrice, `lines[${i}].unitPrice`) * l.qty !== n + d) return `lines[${i}]: unitPrice × qty ≠ net + discount`;
      net += n;
      vat += v;
      discount += d;
      qty += item.qty;
    }
    const t = res.totals ?? {};
    if (cents(t.net, 'totals.net') !== net) return `totals.net ${t.net}, lines sum to ${net} cents`;
    if (cents(t.vat, 'totals.vat') !== vat) return `totals.vat ${t.vat}, lines sum to ${vat} cents`;
    if (cents(t.discount, 'totals.discount') !== discount) return `totals.discount ${t.discount}, lines sum to ${discount} cents`;
    if (cents(t.gross, 'totals.gross') !== net + vat) return `totals.gross ${t.gross} ≠ net + vat (${net + vat} cents)`;
    if (res.itemCount !== qty) return `itemCount ${res.itemCount}, quantities sum to ${qty}`;
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}
