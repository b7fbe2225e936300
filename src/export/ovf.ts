import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { invalid } from '../core/errors.js';

/**
 * The OVF 1.1 descriptor of an OVA (DMTF DSP0243, schema DSP8023 1.1.1): one virtual system
 * with its CPUs, memory, an IDE controller holding the disk (every hypervisor, and the PIIX
 * driver of the guest kernel, knows it), and one NIC. Written with fast-xml-parser's builder,
 * which escapes what it writes; tests validate the result against the DMTF schema with xmllint.
 */
export interface OvfSystem {
  name: string;
  description: string;
  cpus: number;
  memoryMiB: number;
  /** What runs in it, for OperatingSystemSection's description. */
  os: string;
  disk: { file: string; fileBytes: number; capacityBytes: number };
}

const NS = {
  'xmlns': 'http://schemas.dmtf.org/ovf/envelope/1',
  'xmlns:ovf': 'http://schemas.dmtf.org/ovf/envelope/1',
  'xmlns:rasd': 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData',
  'xmlns:vssd': 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData',
  'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance',
};

/** The OS type CIM lists as "Debian 64-Bit" (OperatingSystemSection ovf:id), what the guest kernel is. */
const OS_DEBIAN_64 = 96;
const STREAM_OPTIMIZED = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';

/** A hardware item: the CIM schema wants its elements in alphabetical order, InstanceID among them. */
const item = (id: number, fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries({ ...fields, 'rasd:InstanceID': id }).sort(([a], [b]) => a.localeCompare(b)));

export function ovfDescriptor(s: OvfSystem): string {
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    'Envelope': {
      ...Object.fromEntries(Object.entries(NS).map(([k, v]) => [`@_${k}`, v])),
      'References': { File: { '@_ovf:href': s.disk.file, '@_ovf:id': 'file1', '@_ovf:size': String(s.disk.fileBytes) } },
      'DiskSection': {
        Info: 'The virtual disk',
        Disk: { '@_ovf:capacity': String(s.disk.capacityBytes), '@_ovf:diskId': 'vmdisk1', '@_ovf:fileRef': 'file1', '@_ovf:format': STREAM_OPTIMIZED },
      },
      'NetworkSection': { Info: 'The network the NIC attaches to', Network: { '@_ovf:name': 'NAT', Description: 'The NAT network' } },
      'VirtualSystem': {
        '@_ovf:id': s.name,
        'Info': s.description,
        'Name': s.name,
        'OperatingSystemSection': { '@_ovf:id': String(OS_DEBIAN_64), 'Info': 'The kind of installed guest operating system', 'Description': s.os },
        'VirtualHardwareSection': {
          'Info': 'Virtual hardware requirements',
          'System': {
            'vssd:ElementName': 'Virtual Hardware Family',
            'vssd:InstanceID': 0,
            'vssd:VirtualSystemIdentifier': s.name,
            'vssd:VirtualSystemType': 'vmx-07 virtualbox-2.2 qemu',
          },
          'Item': [
            item(1, { 'rasd:Caption': `${s.cpus} virtual CPU`, 'rasd:Description': 'Number of virtual CPUs', 'rasd:ElementName': `${s.cpus} virtual CPU`, 'rasd:ResourceType': 3, 'rasd:VirtualQuantity': s.cpus }),
            item(2, { 'rasd:AllocationUnits': 'byte * 2^20', 'rasd:Caption': `${s.memoryMiB} MB of memory`, 'rasd:Description': 'Memory Size', 'rasd:ElementName': `${s.memoryMiB} MB of memory`, 'rasd:ResourceType': 4, 'rasd:VirtualQuantity': s.memoryMiB }),
            item(3, { 'rasd:Address': 0, 'rasd:Caption': 'ideController0', 'rasd:Description': 'IDE Controller', 'rasd:ElementName': 'ideController0', 'rasd:ResourceSubType': 'PIIX4', 'rasd:ResourceType': 5 }),
            item(4, { 'rasd:AddressOnParent': 0, 'rasd:Caption': 'disk1', 'rasd:Description': 'Disk Image', 'rasd:ElementName': 'disk1', 'rasd:HostResource': '/disk/vmdisk1', 'rasd:Parent': 3, 'rasd:ResourceType': 17 }),
            item(5, { 'rasd:AutomaticAllocation': 'true', 'rasd:Caption': 'Ethernet adapter on NAT', 'rasd:Connection': 'NAT', 'rasd:ElementName': 'Ethernet adapter on NAT', 'rasd:ResourceSubType': 'virtio', 'rasd:ResourceType': 10 }),
          ],
        },
      },
    },
  };
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, indentBy: '  ', suppressEmptyNode: true });
  return builder.build(doc) as string;
}

/** What isola needs of an OVF: the system's CPUs and memory and its disks' files. */
export interface OvfFacts {
  name: string;
  cpus: number;
  memoryMiB: number;
  /** The files of the disks the virtual system uses, in order. */
  diskFiles: string[];
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function parseOvf(xml: string, what: string): OvfFacts {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, parseTagValue: true });
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`${what} is not an XML document: ${(e as Error).message}`, 'check the OVA was written completely');
  }
  const env = doc.Envelope as Record<string, unknown> | undefined;
  if (!env) throw invalid(`${what} has no OVF Envelope`, 'give an OVA made by an OVF 1.x exporter');
  const files = new Map<string, string>();
  for (const f of asArray((env.References as { File?: unknown } | undefined)?.File) as Record<string, unknown>[]) files.set(String(f['@_id']), String(f['@_href']));
  const disks = new Map<string, string>();
  for (const d of asArray((env.DiskSection as { Disk?: unknown } | undefined)?.Disk) as Record<string, unknown>[]) disks.set(String(d['@_diskId']), String(d['@_fileRef']));
  const vs = asArray(env.VirtualSystem as unknown)[0] as Record<string, unknown> | undefined;
  if (!vs) throw invalid(`${what} describes no virtual system`, 'give an OVA with one VirtualSystem');
  const items = asArray((vs.VirtualHardwareSection as { Item?: unknown } | undefined)?.Item) as Record<string, unknown>[];
  const ofType = (t: number) => items.filter((i) => Number(i.ResourceType) === t);
  const cpus = Number(ofType(3)[0]?.VirtualQuantity ?? 1);
  const memItem = ofType(4)[0];
  const units = String(memItem?.AllocationUnits ?? 'byte * 2^20');
  const scale = /2\^30/.test(units) ? 1024 : /2\^10/.test(units) ? 1 / 1024 : 1;
  const memoryMiB = Math.round(Number(memItem?.VirtualQuantity ?? 512) * scale);
  const diskFiles: string[] = [];
  for (const d of ofType(17)) {
    const host = String(d.HostResource ?? '');
    const id = host.replace(/^ovf:\/disk\/|^\/disk\//, '');
    const fileRef = disks.get(id);
    if (!fileRef) throw invalid(`${what}: disk item ${host} names no disk of its DiskSection`, 'the OVF is inconsistent; export it again');
    const file = files.get(fileRef);
    if (!file) throw invalid(`${what}: disk ${id} names file ${fileRef}, which References does not list`, 'the OVF is inconsistent; export it again');
    diskFiles.push(file);
  }
  if (diskFiles.length === 0) throw invalid(`${what} has no disk`, 'give an OVA with at least one disk');
  return { name: String(vs['@_id'] ?? vs.Name ?? 'vm'), cpus: Math.max(1, cpus), memoryMiB: Math.max(64, memoryMiB), diskFiles };
}
