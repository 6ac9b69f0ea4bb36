"""The instance types nubes offers, with AWS's vCPU and memory figures; their vCPUs are what
CPUUtilization is measured against."""

from __future__ import annotations

from functools import cache
from typing import Any

from nubes.services.ec2.filters import Filters

# family -> (architecture, hypervisor, burstable, network, {size: (vCPUs, memory GiB)})
_SIZES_T: dict[str, tuple[int, float]] = {
    "nano": (2, 0.5),
    "micro": (2, 1),
    "small": (2, 2),
    "medium": (2, 4),
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
}
_SIZES_T2: dict[str, tuple[int, float]] = {
    "nano": (1, 0.5),
    "micro": (1, 1),
    "small": (1, 2),
    "medium": (2, 4),
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
}


def _sizes(gib_per_vcpu: float, names: str) -> dict[str, tuple[int, float]]:
    """A fixed-performance family's sizes: the vCPUs follow from the size's name (medium 1,
    large 2, xlarge 4, Nxlarge 4N) and the memory from the family's GiB per vCPU."""
    out: dict[str, tuple[int, float]] = {}
    for name in names.split():
        vcpus = {"medium": 1, "large": 2}.get(name) or 4 * int(name.removesuffix("xlarge") or 1)
        out[name] = (vcpus, vcpus * gib_per_vcpu)
    return out


_NITRO = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"
_NITRO_6 = _NITRO + " 32xlarge"
_C5 = "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge"
_GRAVITON = "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"

FAMILIES: dict[str, tuple[str, str, bool, dict[str, tuple[int, float]]]] = {
    "m1": ("x86_64", "xen", False, {"small": (1, 1.7), "medium": (1, 3.75)}),
    "t2": ("x86_64", "xen", True, _SIZES_T2),
    "t3": ("x86_64", "nitro", True, _SIZES_T),
    "t3a": ("x86_64", "nitro", True, _SIZES_T),
    "t4g": ("arm64", "nitro", True, _SIZES_T),
    "m5": ("x86_64", "nitro", False, _sizes(4, _NITRO)),
    "m5a": ("x86_64", "nitro", False, _sizes(4, _NITRO)),
    "m6i": ("x86_64", "nitro", False, _sizes(4, _NITRO_6)),
    "m6g": ("arm64", "nitro", False, _sizes(4, _GRAVITON)),
    "m7g": ("arm64", "nitro", False, _sizes(4, _GRAVITON)),
    "c5": ("x86_64", "nitro", False, _sizes(2, _C5)),
    "c6i": ("x86_64", "nitro", False, _sizes(2, _NITRO_6)),
    "c6g": ("arm64", "nitro", False, _sizes(2, _GRAVITON)),
    "c7g": ("arm64", "nitro", False, _sizes(2, _GRAVITON)),
    "r5": ("x86_64", "nitro", False, _sizes(8, _NITRO)),
    "r6i": ("x86_64", "nitro", False, _sizes(8, _NITRO_6)),
    "r6g": ("arm64", "nitro", False, _sizes(8, _GRAVITON)),
}
FREE_TIER = {"t2.micro", "t3.micro"}


def _network(vcpus: int, burstable: bool) -> str:
    if burstable:
        return "Up to 5 Gigabit" if vcpus >= 2 else "Low to Moderate"
    if vcpus <= 16:
        return "Up to 10 Gigabit"
    return "25 Gigabit" if vcpus < 64 else "50 Gigabit"


def _info(
    name: str, arch: str, hypervisor: str, burstable: bool, vcpus: int, memory: float
) -> dict[str, Any]:
    threads = 1 if arch == "arm64" or vcpus == 1 else 2
    interfaces = 2 if vcpus <= 1 else 3 if vcpus == 2 else 4 if vcpus <= 8 else 8
    return {
        "InstanceType": name,
        "CurrentGeneration": not name.startswith(("t2.", "m1.")),
        "FreeTierEligible": name in FREE_TIER,
        "SupportedUsageClasses": ["on-demand", "spot"],
        "SupportedRootDeviceTypes": ["ebs"],
        "SupportedVirtualizationTypes": ["hvm"],
        "BareMetal": False,
        "Hypervisor": hypervisor,
        "ProcessorInfo": {
            "SupportedArchitectures": [arch],
            "SustainedClockSpeedInGhz": 2.5 if arch == "arm64" else 3.1,
        },
        "VCpuInfo": {
            "DefaultVCpus": vcpus,
            "DefaultCores": max(1, vcpus // threads),
            "DefaultThreadsPerCore": threads,
        },
        "MemoryInfo": {"SizeInMiB": int(memory * 1024)},
        "InstanceStorageSupported": False,
        "EbsInfo": {
            "EbsOptimizedSupport": "unsupported" if name.startswith("t2.") else "default",
            "EncryptionSupport": "supported",
            "NvmeSupport": "unsupported" if hypervisor == "xen" else "required",
        },
        "NetworkInfo": {
            "NetworkPerformance": _network(vcpus, burstable),
            "MaximumNetworkInterfaces": interfaces,
            "Ipv4AddressesPerInterface": 15 if interfaces >= 4 else 6,
            "Ipv6AddressesPerInterface": 15 if interfaces >= 4 else 6,
            "Ipv6Supported": True,
            "EnaSupport": "unsupported" if hypervisor == "xen" else "required",
        },
        "PlacementGroupInfo": {
            "SupportedStrategies": ["partition", "spread"] + ([] if burstable else ["cluster"])
        },
        "HibernationSupported": arch == "x86_64",
        "BurstablePerformanceSupported": burstable,
        "DedicatedHostsSupported": not burstable,
        "AutoRecoverySupported": True,
        "SupportedBootModes": ["uefi"] if arch == "arm64" else ["legacy-bios", "uefi"],
    }


@cache
def catalogue() -> dict[str, dict[str, Any]]:
    out = {}
    for family, (arch, hypervisor, burstable, sizes) in FAMILIES.items():
        for size, (vcpus, memory) in sizes.items():
            name = f"{family}.{size}"
            out[name] = _info(name, arch, hypervisor, burstable, vcpus, memory)
    return dict(sorted(out.items()))


def vcpus(name: str) -> int:
    info = catalogue().get(name)
    return int(info["VCpuInfo"]["DefaultVCpus"]) if info else 1


TYPE_FILTERS = Filters(
    {
        "instance-type": "InstanceType",
        "current-generation": "CurrentGeneration",
        "free-tier-eligible": "FreeTierEligible",
        "bare-metal": "BareMetal",
        "burstable-performance-supported": "BurstablePerformanceSupported",
        "hypervisor": "Hypervisor",
        "hibernation-supported": "HibernationSupported",
        "auto-recovery-supported": "AutoRecoverySupported",
        "memory-info.size-in-mib": "MemoryInfo.SizeInMiB",
        "vcpu-info.default-vcpus": "VCpuInfo.DefaultVCpus",
        "vcpu-info.default-cores": "VCpuInfo.DefaultCores",
        "vcpu-info.default-threads-per-core": "VCpuInfo.DefaultThreadsPerCore",
        "processor-info.supported-architecture": "ProcessorInfo.SupportedArchitectures",
        "processor-info.sustained-clock-speed-in-ghz": "ProcessorInfo.SustainedClockSpeedInGhz",
        "network-info.network-performance": "NetworkInfo.NetworkPerformance",
        "network-info.maximum-network-interfaces": "NetworkInfo.MaximumNetworkInterfaces",
        "network-info.ena-support": "NetworkInfo.EnaSupport",
        "ebs-info.ebs-optimized-support": "EbsInfo.EbsOptimizedSupport",
        "ebs-info.nvme-support": "EbsInfo.NvmeSupport",
        "supported-usage-class": "SupportedUsageClasses",
        "supported-root-device-type": "SupportedRootDeviceTypes",
        "supported-virtualization-type": "SupportedVirtualizationTypes",
        "supported-boot-mode": "SupportedBootModes",
        "instance-storage-supported": "InstanceStorageSupported",
        "dedicated-hosts-supported": "DedicatedHostsSupported",
    },
    tags=False,
)
OFFERING_FILTERS = Filters(
    {"instance-type": "InstanceType", "location": "Location", "location-type": "LocationType"},
    tags=False,
)
