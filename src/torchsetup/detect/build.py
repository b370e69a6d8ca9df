"""From raw probe records to an :class:`Environment` (pure), and the live entry point."""

from __future__ import annotations

from typing import Any, Optional

from torchsetup.detect.build_vendors import build_amd, build_intel, build_jetson
from torchsetup.detect.model import (
    CudaToolkit,
    DeepDevice,
    DeepFacts,
    DiskSpace,
    Environment,
    Gpu,
    LibraryDir,
    LoadedLibrary,
    Nvidia,
    OSInfo,
    ProbeSummary,
    Resources,
    Tools,
)
from torchsetup.detect.parse import nvidia as pnv
from torchsetup.detect.parse import system as psys
from torchsetup.detect.parse import toolkit as ptk
from torchsetup.detect.parse.target_probe import build_python
from torchsetup.detect.probes.record import DEFAULT_TIMEOUT, ProbeRecord, Snapshot
from torchsetup.sanitize import clean


def detect_environment(
    python: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT
) -> Environment:
    """Probe this machine (target interpreter: ``python`` or the default choice) and build facts."""
    from torchsetup.detect.probes.collect import collect
    from torchsetup.detect.target import choose_target

    choice = choose_target(python)
    return build_environment(collect(choice.python, chosen_by=choice.how, timeout=timeout))


def build_environment(snap: Snapshot) -> Environment:
    env_vars = dict(snap.get("env").data.get("vars") or {})
    return Environment(
        os=build_os(snap.get("platform")),
        resources=build_resources(snap.get("resources"), snap.get("disk")),
        nvidia=build_nvidia(snap, env_vars.get("CUDA_VISIBLE_DEVICES")),
        toolkit=build_toolkit(snap.get("cuda-toolkit")),
        python=build_python(snap.records.get("python")),
        tools=build_tools(snap.get("tools")),
        env_vars=tuple(sorted(env_vars.items())),
        # pip's configuration files, with the site one and the constraints file of the target's
        # drift guard (torchsetup guard; the "guard" probe)
        pip_config=tuple(
            sorted(
                {
                    **(snap.get("pip-config").data.get("files") or {}),
                    **(snap.get("guard").data.get("files") or {}),
                }.items()
            )
        ),
        probes=tuple(
            ProbeSummary(name=r.name, ok=r.ok, duration_s=round(r.duration_s, 4), error=r.error)
            for r in sorted(snap.records.values(), key=lambda r: r.name)
        ),
        source=snap.source,
        captured_at=snap.captured_at,
        deep=build_deep(snap.records.get("deep")),
        amd=build_amd(snap),
        intel=build_intel(snap),
        jetson=build_jetson(snap),
    )


# --- OS --------------------------------------------------------------------------------------


def build_os(rec: ProbeRecord) -> OSInfo:
    d = rec.data
    if not d:
        return OSInfo()
    system = d.get("system")
    name = distro = version = None
    if d.get("os_release"):
        osr = psys.parse_os_release(d["os_release"])
        name = osr.get("PRETTY_NAME") or osr.get("NAME")
        distro = osr.get("ID")
        version = osr.get("VERSION_ID")
    elif d.get("mac_ver"):
        name, distro, version = f"macOS {d['mac_ver']}", "macos", d["mac_ver"]
    elif d.get("win32_ver"):
        release, ver = d["win32_ver"][0], d["win32_ver"][1]
        name, distro, version = f"Windows {release}", "windows", ver
    libc, libc_version = psys.parse_glibc(d.get("libc"))
    wsl = psys.is_wsl(d.get("proc_version"), d.get("release")) if system == "Linux" else False
    container = None
    if system == "Linux":
        container = psys.detect_container(
            dockerenv=bool(d.get("dockerenv")),
            containerenv=bool(d.get("containerenv")),
            cgroup=d.get("cgroup"),
            env={},
        )
    translated = d.get("proc_translated")
    return OSInfo(
        system=system,
        name=name,
        distro_id=distro,
        version=version,
        kernel=d.get("release"),
        machine=psys.normalise_machine(d.get("machine"), system),
        libc=libc,
        libc_version=libc_version,
        wsl=wsl,
        wsl_libcuda=d.get("wsl_libcuda"),
        container=container,
        rosetta=(translated == "1") if translated is not None else None,
        hostname=d.get("hostname"),
        vc_runtime_missing=_tuple_or_none(d.get("vc_runtime_missing")),
        wsl_linux_driver=d.get("wsl_linux_driver"),
    )


def _tuple_or_none(value: Any) -> Optional[tuple[str, ...]]:
    return None if value is None else tuple(str(x) for x in value)


# --- resources -------------------------------------------------------------------------------


def build_resources(rec: ProbeRecord, disk: ProbeRecord) -> Resources:
    d = rec.data
    disks = tuple(
        DiskSpace(
            label=x["label"], path=x["path"], free_bytes=x.get("free"), total_bytes=x.get("total")
        )
        for x in disk.data.get("disks") or []
    )
    return Resources(
        logical_cpus=d.get("usable_cpus") or d.get("logical_cpus"),
        physical_cores=d.get("physical_cores"),
        memory_total_bytes=d.get("memory_total"),
        memory_available_bytes=d.get("memory_available"),
        disks=disks,
        shm_bytes=d.get("shm_total"),
    )


# --- NVIDIA ----------------------------------------------------------------------------------


def _first_flag(value: Any) -> Optional[bool]:
    """NVML's (current, pending) mode pair, or the current mode alone (a capture's int)."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return bool(value) if isinstance(value, int) else None


def _gpus_from_nvml(data: dict[str, Any]) -> tuple[Gpu, ...]:
    gpus = []
    for i, g in enumerate(data.get("gpus") or []):
        cc = g.get("cc")
        mig = g.get("mig")
        ecc = g.get("ecc")
        gpus.append(
            Gpu(
                index=i,
                name=g.get("name") or "?",
                compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
                memory_total_bytes=g.get("mem_total"),
                uuid=g.get("uuid"),
                pci_bus_id=g.get("pci"),
                mig_enabled=bool(mig[0]) if mig else None,
                ecc_enabled=_first_flag(ecc),
            )
        )
    return tuple(gpus)


def _gpus_from_proc(gpus: dict[str, str]) -> tuple[Gpu, ...]:
    out = []
    for i, (bus, text) in enumerate(sorted(gpus.items())):
        info = pnv.parse_proc_gpu_information(text)
        out.append(
            Gpu(
                index=i,
                name=info.get("Model", "?"),
                uuid=info.get("GPU UUID"),
                pci_bus_id=info.get("Bus Location", bus),
            )
        )
    return tuple(out)


def build_nvidia(snap: Snapshot, cuda_visible: Optional[str]) -> Nvidia:
    """NVML first; when it failed, libcuda, nvidia-smi and /proc fill in what they can."""
    nvml = snap.get("nvml")
    procf = snap.get("nvidia-proc").data
    pci = snap.get("pci").data
    kernel = pnv.parse_proc_driver_version(procf["version"]) if procf.get("version") else None
    pci_count = len(pci.get("devices") or []) if pci.get("available") else None
    signs = _driver_signs(snap, kernel)

    if nvml.ok and nvml.data.get("count") is not None:
        d = nvml.data
        nvml_driver = d.get("driver")
        mismatch = bool(kernel and nvml_driver and kernel != nvml_driver)
        return Nvidia(
            status="mismatch" if mismatch else "ok",
            driver_version=nvml_driver,
            cuda_driver_version=pnv.cuda_version_from_int(d.get("cuda_driver_version")),
            gpus=_gpus_from_nvml(d),
            source="nvml",
            nvml_version=d.get("nvml_version"),
            kernel_module_version=kernel,
            pci_nvidia_devices=pci_count,
            cuda_visible_devices=cuda_visible,
            errors=(f"kernel module {kernel} differs from user-space driver {nvml_driver}",)
            if mismatch
            else (),
            driver_signs=signs,
            table_problems=tuple(pnv.gpu_table_problems(_nvml_rows(d))),
        )

    errors = [nvml.error] if nvml.error else []
    status = pnv.nvml_error_status(nvml.error) if nvml.error else "unknown"
    hung = ["NVML"] if nvml.data.get("timed_out") else []
    driver: Optional[str] = None
    cuda: Optional[str] = None
    gpus: tuple[Gpu, ...] = ()
    source: Optional[str] = None
    libcuda_error = smi_error = smi_broken = None
    problems: tuple[str, ...] = ()

    libcuda = snap.records.get("libcuda")
    if libcuda is not None and libcuda.ok:
        cuda, source = pnv.cuda_version_from_int(libcuda.data.get("version")), "libcuda"
    elif libcuda is not None:
        libcuda_error = libcuda.error
        if libcuda.data.get("timed_out"):
            hung.append("libcuda")
            status = "error"
            errors.append(libcuda.error or "libcuda did not answer")

    smi = snap.records.get("nvidia-smi")
    if smi is not None:
        hint, smi_driver, smi_gpus, smi_error, rows = _from_smi(smi)
        if smi_error:
            errors.append(smi_error)
            if hint is None and smi_gpus is None:
                smi_broken = smi_error  # crashed, hung, garbage: not a driver state it named
        if smi_gpus is not None:
            gpus, driver, source = smi_gpus, smi_driver, source or "nvidia-smi"
            problems = tuple(pnv.gpu_table_problems(rows))
        if hint:
            status = hint
        elif smi_gpus is None and smi.data.get("path") and status in ("no-driver", "unknown"):
            status = "error"  # nvidia-smi is there but failed: unknown, not "no driver"

    if driver is None and kernel:
        driver, source = kernel, source or "proc"
        gpus = gpus or _gpus_from_proc(procf.get("gpus") or {})
    cuda = cuda or pnv.max_cuda_for_driver(driver)
    if hung:
        status = "error"  # the driver is there and wedged, whatever else answered
    elif status != "mismatch" and kernel and driver and kernel != driver:
        status = "mismatch"
        errors.append(f"kernel module {kernel} differs from user-space driver {driver}")
    elif status not in ("mismatch", "not-loaded") and (driver or cuda):
        status = "ok"
    elif status in ("no-driver", "unknown") and pci_count:
        status = "not-loaded"
    elif status == "unknown":
        status = "no-driver"
    return Nvidia(
        status=status,
        driver_version=driver,
        cuda_driver_version=cuda,
        gpus=gpus,
        source=source,
        nvml_error=nvml.error,
        smi_error=smi_error,
        libcuda_error=libcuda_error,
        errors=tuple(errors),
        kernel_module_version=kernel,
        pci_nvidia_devices=pci_count,
        cuda_visible_devices=cuda_visible,
        driver_signs=signs,
        smi_broken=smi_broken,
        hung=tuple(hung),
        table_problems=problems,
    )


def _driver_signs(snap: Snapshot, kernel: Optional[str]) -> tuple[str, ...]:
    """What says an NVIDIA driver is installed and loaded, besides nvidia-smi."""
    signs = []
    if kernel:
        signs.append("/proc/driver/nvidia/version")
    hints = snap.get("nvml").data.get("hints") or {}
    if hints.get("dev_nvidiactl") or hints.get("dev_nvidia"):
        signs.append("/dev/nvidia*")
    nvml = snap.get("nvml")
    # loaded and answering, or loaded and failing (not "not found", "not loaded", "mismatch")
    if nvml.ok or (nvml.error and pnv.nvml_error_status(nvml.error) == "error"):
        signs.append("libnvidia-ml loads")
    libcuda = snap.records.get("libcuda")
    if libcuda is not None and (libcuda.ok or libcuda.data.get("library")):
        signs.append("libcuda loads")
    return tuple(signs)


def _nvml_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "uuid": g.get("uuid"),
            "pci_bus_id": g.get("pci"),
            "memory_total_bytes": g.get("mem_total"),
            "memory_used_bytes": g.get("mem_used"),
        }
        for i, g in enumerate(data.get("gpus") or [])
    ]


def _from_smi(
    rec: ProbeRecord,
) -> tuple[
    Optional[str], Optional[str], Optional[tuple[Gpu, ...]], Optional[str], list[dict[str, Any]]
]:
    """(status hint, driver version, GPUs or None, error, the parsed rows) from an nvidia-smi
    record."""
    d = rec.data
    if d.get("path") is None:
        return None, None, None, None, []
    text = (d.get("stdout") or "") + "\n" + (d.get("stderr") or "")
    hint = pnv.classify_smi_failure(text)
    if hint == "no-gpu":
        return "ok", None, (), "nvidia-smi: No devices were found", []
    if d.get("timed_out"):
        return None, None, None, rec.error or "nvidia-smi timed out", []
    if not rec.ok:
        return hint, None, None, rec.error, []
    try:
        rows = pnv.parse_smi_query_csv(
            d.get("stdout") or "", tuple(d.get("fields") or pnv.SMI_QUERY_FIELDS)
        )
    except pnv.SmiParseError as exc:
        return hint, None, None, f"nvidia-smi output not understood: {exc}", []
    gpus = tuple(
        Gpu(
            index=r["index"],
            name=r["name"],
            compute_capability=r["compute_capability"],
            memory_total_bytes=r["memory_total_bytes"],
            uuid=r["uuid"],
            pci_bus_id=r["pci_bus_id"],
            mig_enabled=r["mig_enabled"],
        )
        for r in rows
    )
    driver = rows[0]["driver_version"] if rows else None
    return "ok", driver, gpus, None, rows


# --- toolkit, tools --------------------------------------------------------------------------


def build_toolkit(rec: ProbeRecord) -> CudaToolkit:
    d = rec.data
    short, full = ptk.parse_nvcc_version(d.get("nvcc_stdout") or "")
    head = None
    if d.get("nvcc_path") and short is None:  # nvcc ran but said no version: keep what it said
        lines = [ln.strip() for ln in clean(d.get("nvcc_stdout") or "").splitlines()]
        head = next((ln[:120] for ln in lines if ln), "(nothing)")
    return CudaToolkit(
        nvcc_path=d.get("nvcc_path"),
        nvcc_version=short,
        nvcc_full_version=full,
        nvcc_error=d.get("nvcc_error"),
        nvcc_output_head=head,
        cuda_home=d.get("cuda_home"),
        cuda_home_var=d.get("cuda_home_var"),
        install_dirs=tuple(d.get("install_dirs") or ()),
        ld_library_path=tuple(d.get("ld_library_path") or ()),
        ld_library_path_cuda_libs=tuple(
            LibraryDir(path=x["path"], libraries=tuple(x["libraries"]))
            for x in d.get("ld_library_path_libs") or []
        ),
    )


def build_tools(rec: ProbeRecord) -> Tools:
    d = rec.data
    gcc = d.get("gcc_version_stdout")
    return Tools(
        paths=tuple(sorted((d.get("paths") or {}).items())),
        gcc_version=ptk.parse_compiler_version(gcc) if gcc else None,
    )


# --- doctor --deep -----------------------------------------------------------------------------


def build_deep(rec: Optional[ProbeRecord]) -> Optional[DeepFacts]:
    """DeepFacts from the ``deep`` record (merged sections of probes/_deep_probe.py)."""
    if rec is None:
        return None
    d = rec.data
    failure = d.get("failure")
    imported = d.get("imported")
    if imported is None and failure:
        imported = False  # it did not even get through `import torch`
    devices = tuple(
        DeepDevice(
            index=int(x.get("index", i)),
            name=x.get("name"),
            capability=x.get("capability"),
            arch=x.get("arch"),
            tensor_ok=x.get("tensor_ok"),
            error=x.get("error"),
        )
        for i, x in enumerate(d.get("devices") or [])
    )
    device_warnings = [w for x in d.get("devices") or [] for w in x.get("warnings") or []]
    libraries = d.get("libraries")
    arch_list = d.get("arch_list")
    return DeepFacts(
        source="deep",
        imported=imported,
        error=d.get("error") or failure,
        import_s=d.get("import_s"),
        torch_version=d.get("torch_version"),
        cuda_available=d.get("cuda_available"),
        device_count=d.get("device_count"),
        cuda_init_warning=d.get("cuda_init_warning"),
        arch_list=tuple(arch_list) if arch_list else None,
        cudnn_version=d.get("cudnn_version"),
        cudnn_error=d.get("cudnn_error"),
        libraries=None
        if libraries is None
        else tuple(LoadedLibrary(name=n, path=p) for n, p in libraries),
        devices=devices,
        mps_built=d.get("mps_built"),
        mps_available=d.get("mps_available"),
        numpy_version=d.get("numpy_version"),
        numpy_error=d.get("numpy_error"),
        warnings=tuple(
            dict.fromkeys(
                [*(d.get("warnings") or []), *device_warnings, *(d.get("section_errors") or [])]
            )
        ),
    )
