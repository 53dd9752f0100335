/*
 * elf_exports.c - reads the dynamic symbol table (.dynsym) of an ELF shared
 * object straight from the file, to list what it exports: defined symbols
 * with global or weak binding and default or protected visibility. ELF64
 * and ELF32, little-endian (the byte order is checked, not converted).
 * Every offset read from the file is bounds-checked first: the file may be
 * anything.
 */
#include "abi_check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct elf_view {
    const unsigned char *data;
    size_t size;
} elf_view_t;

static int in_file(const elf_view_t *v, uint64_t off, uint64_t len)
{
    return off <= v->size && len <= v->size - off;
}

/* Symbols the toolchain puts into every shared object. */
static int is_toolchain_symbol(const char *name)
{
    static const char *const names[] = {"_init",
                                        "_fini",
                                        "_edata",
                                        "_end",
                                        "__bss_start",
                                        "__bss_start__",
                                        "__bss_end__",
                                        "_bss_end__",
                                        "__end__",
                                        "_DYNAMIC",
                                        "_GLOBAL_OFFSET_TABLE_",
                                        "_PROCEDURE_LINKAGE_TABLE_",
                                        "__dso_handle",
                                        "_IO_stdin_used",
                                        "__data_start",
                                        "data_start",
                                        "__TMC_END__",
                                        "__cxa_finalize",
                                        "_ITM_registerTMCloneTable",
                                        "_ITM_deregisterTMCloneTable",
                                        "__gmon_start__"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* A normalised symbol, whichever the class. */
typedef struct sym {
    uint32_t name;
    unsigned char info, other;
    uint16_t shndx;
    uint64_t value, size;
} sym_t;

typedef struct shdr {
    uint32_t type, link;
    uint64_t offset, size, entsize;
} shdr_t;

static void read_shdr(const elf_view_t *v, int is64, uint64_t off, shdr_t *s)
{
    if (is64) {
        Elf64_Shdr h;
        memcpy(&h, v->data + off, sizeof(h));
        *s = (shdr_t){h.sh_type, h.sh_link, h.sh_offset, h.sh_size, h.sh_entsize};
    } else {
        Elf32_Shdr h;
        memcpy(&h, v->data + off, sizeof(h));
        *s = (shdr_t){h.sh_type, h.sh_link, h.sh_offset, h.sh_size, h.sh_entsize};
    }
}

static void read_sym(const elf_view_t *v, int is64, uint64_t off, sym_t *s)
{
    if (is64) {
        Elf64_Sym e;
        memcpy(&e, v->data + off, sizeof(e));
        *s = (sym_t){e.st_name, e.st_info, e.st_other, e.st_shndx, e.st_value, e.st_size};
    } else {
        Elf32_Sym e;
        memcpy(&e, v->data + off, sizeof(e));
        *s = (sym_t){e.st_name, e.st_info, e.st_other, e.st_shndx, e.st_value, e.st_size};
    }
}

static int is_exported(const sym_t *s)
{
    int bind = ELF64_ST_BIND(s->info), vis = ELF64_ST_VISIBILITY(s->other);
    if (s->shndx == SHN_UNDEF)
        return 0;
    if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
        return 0;
    if (vis != STV_DEFAULT && vis != STV_PROTECTED)
        return 0;
    /* Version-definition names ("VERS_1") are absolute, zero-valued symbols. */
    if (s->shndx == SHN_ABS && s->value == 0 && s->size == 0)
        return 0;
    return 1;
}

static int walk_dynsym(const elf_view_t *v, int is64, const shdr_t *dynsym, const shdr_t *strtab,
                       ac_symbol_fn fn, void *arg, char *why, size_t why_size)
{
    uint64_t entsize = is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
    if (!in_file(v, dynsym->offset, dynsym->size) || !in_file(v, strtab->offset, strtab->size)) {
        snprintf(why, why_size, ".dynsym or its string table lies outside the file");
        return -1;
    }
    for (uint64_t off = entsize; off + entsize <= dynsym->size; off += entsize) {
        sym_t s;
        read_sym(v, is64, dynsym->offset + off, &s);
        if (!is_exported(&s))
            continue;
        if (s.name >= strtab->size ||
            memchr(v->data + strtab->offset + s.name, '\0', strtab->size - s.name) == NULL) {
            snprintf(why, why_size, "a .dynsym name lies outside its string table");
            return -1;
        }
        const char *name = (const char *)v->data + strtab->offset + s.name;
        if (is_toolchain_symbol(name))
            continue;
        fn(arg, name, ELF64_ST_TYPE(s.info) == STT_FUNC || ELF64_ST_TYPE(s.info) == STT_GNU_IFUNC);
    }
    return 0;
}

static int parse(const elf_view_t *v, ac_symbol_fn fn, void *arg, char *why, size_t why_size)
{
    if (v->size < EI_NIDENT || memcmp(v->data, ELFMAG, SELFMAG) != 0) {
        snprintf(why, why_size, "not an ELF file");
        return -1;
    }
    int is64 = v->data[EI_CLASS] == ELFCLASS64;
    if (!is64 && v->data[EI_CLASS] != ELFCLASS32) {
        snprintf(why, why_size, "unknown ELF class %u", v->data[EI_CLASS]);
        return -1;
    }
    if (v->data[EI_DATA] != ELFDATA2LSB) {
        snprintf(why, why_size, "big-endian ELF is not supported");
        return -1;
    }
    uint64_t shoff, shentsize, shnum;
    if (is64) {
        Elf64_Ehdr eh;
        if (!in_file(v, 0, sizeof(eh)))
            goto truncated;
        memcpy(&eh, v->data, sizeof(eh));
        shoff = eh.e_shoff, shentsize = eh.e_shentsize, shnum = eh.e_shnum;
    } else {
        Elf32_Ehdr eh;
        if (!in_file(v, 0, sizeof(eh)))
            goto truncated;
        memcpy(&eh, v->data, sizeof(eh));
        shoff = eh.e_shoff, shentsize = eh.e_shentsize, shnum = eh.e_shnum;
    }
    if (shentsize < (is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)) ||
        !in_file(v, shoff, shentsize * shnum))
        goto truncated;
    for (uint64_t i = 0; i < shnum; i++) {
        shdr_t s, str;
        read_shdr(v, is64, shoff + i * shentsize, &s);
        if (s.type != SHT_DYNSYM)
            continue;
        if (s.link >= shnum)
            goto truncated;
        read_shdr(v, is64, shoff + s.link * shentsize, &str);
        return walk_dynsym(v, is64, &s, &str, fn, arg, why, why_size);
    }
    snprintf(why, why_size, "no .dynsym section (no section headers?)");
    return -1;
truncated:
    snprintf(why, why_size, "truncated or malformed ELF section headers");
    return -1;
}

int ac_elf_exports(const char *path, ac_symbol_fn fn, void *arg, char *why, size_t why_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_size, "open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        snprintf(why, why_size, "%s: empty or unreadable", path);
        close(fd);
        return -1;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(why, why_size, "mmap %s: %s", path, strerror(errno));
        return -1;
    }
    elf_view_t v = {map, (size_t)st.st_size};
    int rc = parse(&v, fn, arg, why, why_size);
    munmap(map, (size_t)st.st_size);
    return rc;
}
