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
_SIZES_M5: dict[str, tuple[int, float]] = {
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
    "4xlarge": (16, 64),
    "8xlarge": (32, 128),
    "12xlarge": (48, 192),
    "16xlarge": (64, 256),
    "24xlarge": (96, 384),
}
_SIZES_M6 = {**_SIZES_M5, "32xlarge": (128, 512)}
_SIZES_M6G: dict[str, tuple[int, float]] = {
    "medium": (1, 4),
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
    "4xlarge": (16, 64),
    "8xlarge": (32, 128),
    "12xlarge": (48, 192),
    "16xlarge": (64, 256),
}
_SIZES_C5: dict[str, tuple[int, float]] = {
    "large": (2, 4),
    "xlarge": (4, 8),
    "2xlarge": (8, 16),
    "4xlarge": (16, 32),
    "9xlarge": (36, 72),
    "12xlarge": (48, 96),
    "18xlarge": (72, 144),
    "24xlarge": (96, 192),
}
_SIZES_C6: dict[str, tuple[int, float]] = {
    "large": (2, 4),
    "xlarge": (4, 8),
    "2xlarge": (8, 16),
    "4xlarge": (16, 32),
    "8xlarge": (32, 64),
    "12xlarge": (48, 96),
    "16xlarge": (64, 128),
    "24xlarge": (96, 192),
    "32xlarge": (128, 256),
}
_SIZES_C7G: dict[str, tuple[int, float]] = {
    "medium": (1, 2),
    "large": (2, 4),
    "xlarge": (4, 8),
    "2xlarge": (8, 16),
    "4xlarge": (16, 32),
    "8xlarge": (32, 64),
    "12xlarge": (48, 96),
    "16xlarge": (64, 128),
}
_SIZES_R5: dict[str, tuple[int, float]] = {
    "large": (2, 16),
    "xlarge": (4, 32),
    "2xlarge": (8, 64),
    "4xlarge": (16, 128),
    "8xlarge": (32, 256),
    "12xlarge": (48, 384),
    "16xlarge": (64, 512),
    "24xlarge": (96, 768),
}
_SIZES_R6 = {**_SIZES_R5, "32xlarge": (128, 1024)}

FAMILIES: dict[str, tuple[str, str, bool, dict[str, tuple[int, float]]]] = {
    "m1": ("x86_64", "xen", False, {"small": (1, 1.7), "medium": (1, 3.75)}),
    "t2": ("x86_64", "xen", True, _SIZES_T2),
    "t3": ("x86_64", "nitro", True, _SIZES_T),
    "t3a": ("x86_64", "nitro", True, _SIZES_T),
    "t4g": ("arm64", "nitro", True, _SIZES_T),
    "m5": ("x86_64", "nitro", False, _SIZES_M5),
    "m5a": ("x86_64", "nitro", False, _SIZES_M5),
    "m6i": ("x86_64", "nitro", False, _SIZES_M6),
    "m6g": ("arm64", "nitro", False, _SIZES_M6G),
    "m7g": ("arm64", "nitro", False, _SIZES_M6G),
    "c5": ("x86_64", "nitro", False, _SIZES_C5),
    "c6i": ("x86_64", "nitro", False, _SIZES_C6),
    "c6g": ("arm64", "nitro", False, _SIZES_M6G | {"medium": (1, 2), "large": (2, 4)}),
    "c7g": ("arm64", "nitro", False, _SIZES_C7G),
    "r5": ("x86_64", "nitro", False, _SIZES_R5),
    "r6i": ("x86_64", "nitro", False, _SIZES_R6),
    "r6g": ("arm64", "nitro", False, {k: (v[0], v[0] * 8.0) for k, v in _SIZES_M6G.items()}),
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
