"""The public parameters AWS publishes under ``/aws/service/``: the latest AMIs (resolving to
the images EC2's catalogue answers for) and the global infrastructure's Regions."""

from __future__ import annotations

from functools import cache

from nubes.services.ec2.images import public_parameters
from nubes.services.ec2.regions import REGIONS

PREFIX = "/aws/service/"

# Region -> (long name, geolocation country, geolocation region).
_REGION_FACTS: dict[str, tuple[str, str, str]] = {
    "us-east-1": ("US East (N. Virginia)", "US", "US-VA"),
    "us-east-2": ("US East (Ohio)", "US", "US-OH"),
    "us-west-1": ("US West (N. California)", "US", "US-CA"),
    "us-west-2": ("US West (Oregon)", "US", "US-OR"),
    "ca-central-1": ("Canada (Central)", "CA", "CA-QC"),
    "eu-west-1": ("Europe (Ireland)", "IE", "IE-D"),
    "eu-west-2": ("Europe (London)", "GB", "GB-LND"),
    "eu-west-3": ("Europe (Paris)", "FR", "FR-75"),
    "eu-central-1": ("Europe (Frankfurt)", "DE", "DE-HE"),
    "eu-north-1": ("Europe (Stockholm)", "SE", "SE-AB"),
    "ap-south-1": ("Asia Pacific (Mumbai)", "IN", "IN-MH"),
    "ap-northeast-1": ("Asia Pacific (Tokyo)", "JP", "JP-13"),
    "ap-northeast-2": ("Asia Pacific (Seoul)", "KR", "KR-11"),
    "ap-southeast-1": ("Asia Pacific (Singapore)", "SG", "SG-01"),
    "ap-southeast-2": ("Asia Pacific (Sydney)", "AU", "AU-NSW"),
    "sa-east-1": ("South America (Sao Paulo)", "BR", "BR-SP"),
}


@cache
def parameters(region: str) -> dict[str, tuple[str, str]]:
    """Public parameter name -> (value, data type) as seen from ``region``."""
    out: dict[str, tuple[str, str]] = {
        name: (image, "aws:ec2:image") for name, image in public_parameters(region).items()
    }
    base = "/aws/service/global-infrastructure/regions"
    for name in REGIONS:
        long_name, country, geo = _REGION_FACTS.get(name, (name, "", ""))
        out[f"{base}/{name}"] = (name, "text")
        out[f"{base}/{name}/longName"] = (long_name, "text")
        out[f"{base}/{name}/partition"] = ("aws", "text")
        out[f"{base}/{name}/domain"] = ("amazonaws.com", "text")
        if country:
            out[f"{base}/{name}/geolocationCountry"] = (country, "text")
            out[f"{base}/{name}/geolocationRegion"] = (geo, "text")
    return out
