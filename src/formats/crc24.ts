// CRC-24 of OpenPGP armor checksums (RFC 9580 §6.1). Pure.

const CRC24_POLY = 0x1864cfb;

/** The CRC register after `bits` zero bits are shifted through it (bit by bit: only used to build the tables). */
function shiftZeros(register: number, bits: number): number {
  for (let k = 0; k < bits; k++) {
    register <<= 1;
    if (register & 0x1000000) register ^= CRC24_POLY;
  }
  return register & 0xffffff;
}

// Slicing by 6: the register after 48 bits, split by the byte of the register (or of the input) each bit came from.
// TABLES[k][i]: byte i at bit offset 8*k of a 48-bit window (k = 5 is the register's top byte), shifted out.
const TABLES = Array.from({ length: 6 }, (_, k) => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) table[i] = k >= 3 ? shiftZeros(shiftZeros(i << (8 * (k - 3)), 24), 24) : shiftZeros(i << (8 * k), 24);
  return table;
});
const [T0, T1, T2, T3, T4, T5] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
const BYTE_TABLE = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) table[i] = shiftZeros(i << 16, 8);
  return table;
})();

/** CRC-24 of data; pass the previous result as `crc` to continue over data read in parts. */
export function crc24(data: Uint8Array, crc = 0xb704ce): number {
  let i = 0;
  // Six bytes at a time: the first three are XORed into the register, the next three ride behind them.
  for (const end = data.length - 5; i < end; i += 6) {
    const r = crc ^ ((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    crc = T5[r >>> 16]! ^ T4[(r >>> 8) & 0xff]! ^ T3[r & 0xff]! ^ T2[data[i + 3]!]! ^ T1[data[i + 4]!]! ^ T0[data[i + 5]!]!;
  }
  for (; i < data.length; i++) {
    crc = ((crc << 8) ^ BYTE_TABLE[((crc >> 16) ^ data[i]!) & 0xff]!) & 0xffffff;
  }
  return crc;
}
