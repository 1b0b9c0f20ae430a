// A piscina task for bench/micro/handoff.ts: the answer is the request (an echo).
export default function echo(task) {
  return task;
}
