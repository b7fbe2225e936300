import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ovfDescriptor, parseOvf } from '../../../src/export/ovf.js';
import { isIsolaError } from '../../../src/core/errors.js';

const system = { name: 'app', description: 'app exported', cpus: 2, memoryMiB: 384, os: 'Linux, isola\'s init', disk: { file: 'app-disk1.vmdk', fileBytes: 1234, capacityBytes: 1 << 30 } };

test('what isola writes it reads back: CPUs, memory and the disk file', () => {
  const xml = ovfDescriptor(system);
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
  assert.deepEqual(parseOvf(xml, 'app.ovf'), { name: 'app', cpus: 2, memoryMiB: 384, diskFiles: ['app-disk1.vmdk'] });
});

test('names are escaped, never markup', () => {
  const xml = ovfDescriptor({ ...system, description: 'a <b> & "c"' });
  assert.match(xml, /a &lt;b&gt; &amp; "c"|a &lt;b&gt; &amp; &quot;c&quot;/);
});

test('memory in GiB (2^30) as other exporters write it', () => {
  const xml = ovfDescriptor(system).replace('byte * 2^20', 'byte * 2^30').replace('<rasd:VirtualQuantity>384</rasd:VirtualQuantity>', '<rasd:VirtualQuantity>2</rasd:VirtualQuantity>');
  assert.equal(parseOvf(xml, 'x.ovf').memoryMiB, 2048);
});

test('a disk item that names no disk of the DiskSection, or no disk at all, is refused', () => {
  const xml = ovfDescriptor(system);
  assert.throws(() => parseOvf(xml.replace('ovf:diskId="vmdisk1"', 'ovf:diskId="other"'), 'x.ovf'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /names no disk of its DiskSection/.test(e.oneLine()));
  assert.throws(() => parseOvf(xml.replace('ovf:fileRef="file1"', 'ovf:fileRef="file9"'), 'x.ovf'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /which References does not list/.test(e.oneLine()));
  assert.throws(() => parseOvf('<not-ovf/>', 'x.ovf'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /no OVF Envelope/.test(e.oneLine()));
});
