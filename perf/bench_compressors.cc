/*
 * bench_compressors: single-thread encode and decode throughput of every
 * compressor plugin, with Google Benchmark.
 *
 * Each librz_<name>.so found in the plugin directory is dlopen'ed (as the
 * library would load it, but without the library) and benchmarked with its
 * default parameters, plus the variants in rz_bench_variants. Rows:
 *
 *   encode/<plugin>[:<params>]/<bytes>   compress() of <bytes> of fp32
 *                                        input, residual into its own buffer
 *   decode/<plugin>[:<params>]/<bytes>   decompress() of those wire bytes
 *                                        with alpha = 1, beta = 1 (y += Dec)
 *   memcpy/<bytes>                       memcpy of <bytes>, the yardstick
 *
 * for <bytes> = 4 KiB, 16 KiB, ..., 64 MiB. Throughput counts fp32 input
 * bytes on both sides (decode too, so the two are comparable with each
 * other and with memcpy): bytes_per_second is Google Benchmark's (1024
 * based), the user counter GB/s is the same figure in 1e9 B/s, both over
 * CPU time. wire/in is the compressed size over the input size.
 */
#include <ringzip/compressor.h>

#include <benchmark/benchmark.h>

#include <dirent.h>
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace
{

const char rz_bench_usage[] =
    "bench_compressors: encode/decode throughput of the compressor plugins\n"
    "  --plugin-dir=DIR[:DIR...]  where librz_<name>.so files are (default:\n"
    "                             $RZ_PLUGIN_PATH, else <bin>/../lib/ringzip)\n"
    "  --help                     this text, then Google Benchmark's options\n"
    "                             (--benchmark_filter=REGEX,\n"
    "                             --benchmark_min_time=S, --benchmark_format=\n"
    "                             json, ...), which are passed through\n"
    "Rows: encode/<plugin>[:<params>]/<bytes>, decode/..., memcpy/<bytes>;\n"
    "GB/s = fp32 input bytes / CPU time / 1e9.\n";

/* Extra parameter sets benchmarked beside each plugin's defaults. */
const std::pair<const char *, const char *> rz_bench_variants[] = {
    {"topk", "ratio=0.01"},
    {"randk", "ratio=0.01"},
};

/* Built-ins first, in the order the docs list them; others after, sorted. */
const char *const rz_bench_order[] = {"none",      "fp16", "bf16",  "sign",
                                      "blocksign", "topk", "randk", "qsgd"};

constexpr size_t rz_bench_min_bytes = size_t(4) << 10;
constexpr size_t rz_bench_max_bytes = size_t(64) << 20;

struct rz_bench_codec {
    std::string label; /* name, or name:params */
    const rz_compressor_v1_t *ops;
    void *ctx;
};

void rz_bench_log(const rz_compressor_host_t *host, int level, const char *fmt,
                  ...)
{
    (void)host;
    if (level > RZ_COMPRESSOR_LOG_WARN) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "bench_compressors: plugin: ");
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
}

const rz_compressor_host_t rz_bench_host = {RZ_COMPRESSOR_ABI_VERSION,
                                            sizeof(rz_compressor_host_t),
                                            rz_bench_log, nullptr};

struct rz_bench_free {
    void operator()(void *p) const
    {
        std::free(p);
    }
};
using rz_bench_buf = std::unique_ptr<unsigned char[], rz_bench_free>;

/* 64-byte aligned, every page written (so no page fault is timed). */
rz_bench_buf rz_bench_alloc(size_t bytes)
{
    size_t rounded = (std::max<size_t>(bytes, 1) + 63) & ~size_t(63);
    void *p = std::aligned_alloc(64, rounded);
    if (p == nullptr) {
        std::fprintf(stderr, "bench_compressors: out of memory (%zu B)\n",
                     bytes);
        std::exit(1);
    }
    std::memset(p, 0, rounded);
    return rz_bench_buf(static_cast<unsigned char *>(p));
}

/* The shared input: rz_bench_max_bytes of roughly N(0, 0.01^2) fp32
 * values (sum of four uniforms: gradient-like, with a realistic spread of
 * magnitudes and signs), generated once, on first use. */
const float *rz_bench_input()
{
    static rz_bench_buf buf;
    if (!buf) {
        size_t n = rz_bench_max_bytes / sizeof(float);
        buf = rz_bench_alloc(rz_bench_max_bytes);
        float *x = reinterpret_cast<float *>(buf.get());
        uint64_t s = 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < n; i++) {
            double g = -2.0;
            for (int j = 0; j < 4; j++) {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                g += double((s * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
            }
            x[i] = float(g * 0.01);
        }
    }
    return reinterpret_cast<const float *>(buf.get());
}

double rz_bench_cpu_seconds()
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

/* Google Benchmark's CPU column is this thread's CPU time too, so GB/s
 * and bytes_per_second agree (up to 1e9 vs 2^30). */
void rz_bench_report(benchmark::State &state, size_t bytes, double cpu_s)
{
    double total = double(state.iterations()) * double(bytes);
    state.SetBytesProcessed(int64_t(total));
    state.counters["GB/s"] = cpu_s > 0.0 ? total / cpu_s / 1e9 : 0.0;
}

const rz_compressor_key_t rz_bench_key = {42, 0, 0, 0};

void rz_bench_encode(benchmark::State &state, const rz_bench_codec *c,
                     size_t bytes)
{
    const size_t n = bytes / sizeof(float);
    const float *x = rz_bench_input();
    size_t cap =
        c->ops->max_compressed_size(c->ctx, RZ_COMPRESSOR_DTYPE_F32, n);
    rz_bench_buf out = rz_bench_alloc(cap), res = rz_bench_alloc(bytes);
    size_t size = 0;

    double t0 = rz_bench_cpu_seconds();
    for (auto _ : state) {
        rz_status_t st =
            c->ops->compress(c->ctx, &rz_bench_key, RZ_COMPRESSOR_DTYPE_F32, x,
                             n, out.get(), cap, &size, res.get());
        if (st != RZ_OK) {
            state.SkipWithError("compress failed");
            break;
        }
        benchmark::DoNotOptimize(out.get());
        benchmark::ClobberMemory();
    }
    rz_bench_report(state, bytes, rz_bench_cpu_seconds() - t0);
    state.counters["wire/in"] = double(size) / double(bytes);
}

void rz_bench_decode(benchmark::State &state, const rz_bench_codec *c,
                     size_t bytes)
{
    const size_t n = bytes / sizeof(float);
    size_t cap =
        c->ops->max_compressed_size(c->ctx, RZ_COMPRESSOR_DTYPE_F32, n);
    rz_bench_buf out = rz_bench_alloc(cap), y = rz_bench_alloc(bytes);
    size_t size = 0;

    if (c->ops->compress(c->ctx, &rz_bench_key, RZ_COMPRESSOR_DTYPE_F32,
                         rz_bench_input(), n, out.get(), cap, &size,
                         nullptr) != RZ_OK) {
        state.SkipWithError("compress failed");
        return;
    }
    double t0 = rz_bench_cpu_seconds();
    for (auto _ : state) {
        /* y accumulates (alpha = beta = 1), as a reduction would: values
         * grow by one decoded vector per call and stay finite. */
        rz_status_t st =
            c->ops->decompress(c->ctx, &rz_bench_key, RZ_COMPRESSOR_DTYPE_F32,
                               out.get(), size, y.get(), n, 1.0f, 1.0f);
        if (st != RZ_OK) {
            state.SkipWithError("decompress failed");
            break;
        }
        benchmark::DoNotOptimize(y.get());
        benchmark::ClobberMemory();
    }
    rz_bench_report(state, bytes, rz_bench_cpu_seconds() - t0);
    state.counters["wire/in"] = double(size) / double(bytes);
}

void rz_bench_memcpy(benchmark::State &state, size_t bytes)
{
    const float *x = rz_bench_input();
    rz_bench_buf dst = rz_bench_alloc(bytes);

    double t0 = rz_bench_cpu_seconds();
    for (auto _ : state) {
        std::memcpy(dst.get(), x, bytes);
        benchmark::DoNotOptimize(dst.get());
        benchmark::ClobberMemory();
    }
    rz_bench_report(state, bytes, rz_bench_cpu_seconds() - t0);
}

std::vector<std::string> rz_bench_split(const std::string &s)
{
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t end = s.find(':', pos);
        if (end == std::string::npos) {
            end = s.size();
        }
        if (end > pos) {
            out.push_back(s.substr(pos, end - pos));
        }
        pos = end + 1;
    }
    return out;
}

/* --plugin-dir, else $RZ_PLUGIN_PATH, else the build tree's lib/ringzip
 * beside the executable's bin/. */
std::vector<std::string> rz_bench_dirs(const char *opt)
{
    if (opt != nullptr) {
        return rz_bench_split(opt);
    }
    const char *env = std::getenv("RZ_PLUGIN_PATH");
    if (env != nullptr && *env != '\0') {
        return rz_bench_split(env);
    }
    std::vector<std::string> dirs;
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        std::string bin(exe, size_t(len));
        bin = bin.substr(0, bin.rfind('/'));
        dirs.push_back(bin + "/../lib/ringzip");
    }
    return dirs;
}

/* librz_<name>.so in @dirs, the first directory that has a name winning;
 * returns (name, path) in rz_bench_order, then the others sorted. */
std::vector<std::pair<std::string, std::string>>
rz_bench_find(const std::vector<std::string> &dirs)
{
    std::vector<std::pair<std::string, std::string>> found;
    for (const std::string &dir : dirs) {
        DIR *d = opendir(dir.c_str());
        if (d == nullptr) {
            continue;
        }
        while (struct dirent *e = readdir(d)) {
            std::string f = e->d_name;
            if (f.size() <= 9 || f.compare(0, 6, "librz_") != 0 ||
                f.compare(f.size() - 3, 3, ".so") != 0) {
                continue;
            }
            std::string name = f.substr(6, f.size() - 9);
            bool dup = false;
            for (const auto &p : found) {
                dup = dup || p.first == name;
            }
            if (!dup) {
                found.emplace_back(name, dir + "/" + f);
            }
        }
        closedir(d);
    }
    auto rank = [](const std::string &name) {
        size_t n = sizeof(rz_bench_order) / sizeof(rz_bench_order[0]);
        for (size_t i = 0; i < n; i++) {
            if (name == rz_bench_order[i]) {
                return i;
            }
        }
        return n;
    };
    std::sort(found.begin(), found.end(), [&](const auto &a, const auto &b) {
        size_t ra = rank(a.first), rb = rank(b.first);
        return ra != rb ? ra < rb : a.first < b.first;
    });
    return found;
}

/* dlopen and check the plugin as the loader would (ABI, size, name); the
 * handle is kept for the life of the process. */
const rz_compressor_v1_t *rz_bench_load(const std::string &name,
                                        const std::string &path)
{
    void *dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (dl == nullptr) {
        std::fprintf(stderr, "bench_compressors: skip %s: %s\n", path.c_str(),
                     dlerror());
        return nullptr;
    }
    auto ops = static_cast<const rz_compressor_v1_t *>(
        dlsym(dl, RZ_COMPRESSOR_SYMBOL_V1));
    if (ops == nullptr || ops->abi_version != RZ_COMPRESSOR_ABI_VERSION ||
        ops->struct_size < offsetof(rz_compressor_v1_t, delta_bound) ||
        ops->name == nullptr || name != ops->name || ops->init == nullptr ||
        ops->query == nullptr || ops->max_compressed_size == nullptr ||
        ops->compress == nullptr || ops->decompress == nullptr ||
        ops->finalize == nullptr) {
        std::fprintf(stderr,
                     "bench_compressors: skip %s: not a valid v1 plugin "
                     "named '%s'\n",
                     path.c_str(), name.c_str());
        return nullptr;
    }
    return ops;
}

/* A configured codec, or false when it cannot run (logged). */
bool rz_bench_open(const rz_compressor_v1_t *ops, const std::string &params,
                   rz_bench_codec *c_p)
{
    void *ctx = nullptr;
    std::string label = ops->name;
    if (!params.empty()) {
        label += ":" + params;
    }
    if (ops->init(&rz_bench_host, params.c_str(), &ctx) != RZ_OK) {
        std::fprintf(stderr, "bench_compressors: skip %s: init failed\n",
                     label.c_str());
        return false;
    }
    rz_compressor_info_t info;
    std::memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if (ops->query(ctx, &info) != RZ_OK ||
        !(info.dtypes & RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32))) {
        std::fprintf(stderr, "bench_compressors: skip %s: no fp32\n",
                     label.c_str());
        ops->finalize(ctx);
        return false;
    }
    *c_p = rz_bench_codec{label, ops, ctx};
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    const char *plugin_dir = nullptr;
    bool help = false;
    int kept = 1;

    /* Our flags first; everything else goes to Google Benchmark. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (std::strncmp(a, "--plugin-dir=", 13) == 0) {
            plugin_dir = a + 13;
        } else if (std::strcmp(a, "--plugin-dir") == 0 && i + 1 < argc) {
            plugin_dir = argv[++i];
        } else {
            if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0) {
                help = true;
            }
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    argv[argc] = nullptr;
    if (help) {
        std::fputs(rz_bench_usage, stdout);
        std::fputs("\nGoogle Benchmark options:\n", stdout);
        std::fflush(stdout);
    }

    std::vector<std::string> dirs = rz_bench_dirs(plugin_dir);
    std::vector<std::unique_ptr<rz_bench_codec>> codecs;
    std::string dir_list, names;
    for (const std::string &d : dirs) {
        dir_list += (dir_list.empty() ? "" : ":") + d;
    }
    for (const auto &np : rz_bench_find(dirs)) {
        const rz_compressor_v1_t *ops = rz_bench_load(np.first, np.second);
        if (ops == nullptr) {
            continue;
        }
        std::vector<std::string> params = {""};
        for (const auto &v : rz_bench_variants) {
            if (np.first == v.first) {
                params.push_back(v.second);
            }
        }
        for (const std::string &p : params) {
            auto c = std::make_unique<rz_bench_codec>();
            if (rz_bench_open(ops, p, c.get())) {
                names += (names.empty() ? "" : " ") + c->label;
                codecs.push_back(std::move(c));
            }
        }
    }
    if (codecs.empty() && !help) {
        std::fprintf(stderr,
                     "bench_compressors: no plugins in %s (build them, or "
                     "pass --plugin-dir); only memcpy rows\n",
                     dir_list.empty() ? "(nowhere)" : dir_list.c_str());
    }

    for (size_t bytes = rz_bench_min_bytes; bytes <= rz_bench_max_bytes;
         bytes *= 4) {
        std::string sz = std::to_string(bytes);
        for (const auto &c : codecs) {
            const rz_bench_codec *cp = c.get();
            benchmark::RegisterBenchmark(
                ("encode/" + c->label + "/" + sz).c_str(),
                [cp, bytes](benchmark::State &st) {
                    rz_bench_encode(st, cp, bytes);
                });
            benchmark::RegisterBenchmark(
                ("decode/" + c->label + "/" + sz).c_str(),
                [cp, bytes](benchmark::State &st) {
                    rz_bench_decode(st, cp, bytes);
                });
        }
        benchmark::RegisterBenchmark(
            ("memcpy/" + sz).c_str(),
            [bytes](benchmark::State &st) { rz_bench_memcpy(st, bytes); });
    }

    benchmark::AddCustomContext("plugin_dir", dir_list);
    benchmark::AddCustomContext("plugins", names.empty() ? "(none)" : names);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 2;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    for (const auto &c : codecs) {
        c->ops->finalize(c->ctx);
    }
    return 0;
}
