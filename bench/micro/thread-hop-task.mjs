// The task of thread-hop.mjs's `piscina` mode: answers with what it was given, nothing else.
export default (task) => task;
