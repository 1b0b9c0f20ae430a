// The few jStat functions bench/ci/paired.ts uses (jstat ships no types; it is CommonJS, so
// Node's ESM loader offers it as a default export only).
declare module 'jstat' {
  const jstat: {
    jStat: {
      studentt: { cdf(x: number, dof: number): number; inv(p: number, dof: number): number };
      normal: { inv(p: number, mean: number, sd: number): number; cdf(x: number, mean: number, sd: number): number };
      centralF: { cdf(x: number, df1: number, df2: number): number };
    };
  };
  export default jstat;
}
