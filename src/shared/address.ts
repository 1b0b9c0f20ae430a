// How switchboard writes an address: one function, so INFO, the logs, the listening line and the
// admin URL agree (an IPv6 address in brackets, as in a URL).

/** `host:port`, IPv6 in brackets; '' when there is no address (a socket already gone). */
export function formatPeer(address: string | undefined, port: number | undefined): string {
  if (!address) return '';
  return `${address.includes(':') ? `[${address}]` : address}:${port ?? 0}`;
}
