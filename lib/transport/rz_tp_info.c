/*
 * rz_info -t: what UCX can offer on this host, listed through UCT, the layer
 * under UCP. UCP only reports the transports it picked for a context; UCT
 * shows every memory domain and device, which is what someone asking "why is
 * my job on tcp?" needs to see. This is the second (and last) file allowed to
 * include UCX headers, so that rz_info never needs UCX types itself.
 *
 * Nothing here is fatal: a component or memory domain that fails to open is
 * reported on its own line and the listing goes on, because a broken
 * provider (say, an IB driver without a device) must not hide the others.
 */
#include "transport/rz_transport.h"

#include <stdlib.h>
#include <ucp/api/ucp.h>
#include <uct/api/uct.h>

/* Our own names, not uct_device_type_names[], so the output stays stable
 * whatever a UCX release chooses to call them. */
static const char *rz_tp_info_dev_type_name(uct_device_type_t type)
{
    switch (type) {
    case UCT_DEVICE_TYPE_NET:
        return "net";
    case UCT_DEVICE_TYPE_SHM:
        return "shm";
    case UCT_DEVICE_TYPE_ACC:
        return "acc";
    case UCT_DEVICE_TYPE_SELF:
        return "self";
    default:
        return "unknown";
    }
}

static void rz_tp_info_print_md(FILE *out, uct_component_h component,
                                const char *md_name)
{
    uct_md_config_t *md_config;
    uct_tl_resource_desc_t *resources;
    unsigned num_resources;
    uct_md_h md;
    ucs_status_t st;

    fprintf(out, "memory domain %s:\n", md_name);

    st = uct_md_config_read(component, NULL, NULL, &md_config);
    if (st != UCS_OK) {
        fprintf(out, "  (cannot read its configuration: %s)\n",
                ucs_status_string(st));
        return;
    }

    st = uct_md_open(component, md_name, md_config, &md);
    if (st != UCS_OK) {
        fprintf(out, "  (cannot open it: %s)\n", ucs_status_string(st));
        goto out_release_config;
    }

    st = uct_md_query_tl_resources(md, &resources, &num_resources);
    if (st != UCS_OK) {
        fprintf(out, "  (cannot list its transports: %s)\n",
                ucs_status_string(st));
        goto out_close_md;
    }

    if (num_resources == 0) {
        /* Memory-only domains (e.g. for registration) land here. */
        fprintf(out, "  (no transports)\n");
    }
    for (unsigned i = 0; i < num_resources; i++) {
        fprintf(out, "  %s/%s (%s)\n", resources[i].tl_name,
                resources[i].dev_name,
                rz_tp_info_dev_type_name(resources[i].dev_type));
    }

    uct_release_tl_resource_list(resources);
out_close_md:
    uct_md_close(md);
out_release_config:
    uct_config_release(md_config);
}

static void rz_tp_info_print_component(FILE *out, uct_component_h component)
{
    uct_component_attr_t attr;
    uct_md_resource_desc_t *mds;
    ucs_status_t st;

    attr.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME |
                      UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT;
    st = uct_component_query(component, &attr);
    if (st != UCS_OK) {
        fprintf(out, "(a component could not be queried: %s)\n",
                ucs_status_string(st));
        return;
    }
    if (attr.md_resource_count == 0) {
        /* Built into UCX but with nothing to drive here (e.g. cuda on a
         * host without a GPU); say so rather than stay silent. */
        fprintf(out, "component %s: no memory domain on this host\n",
                attr.name);
        return;
    }

    mds = calloc(attr.md_resource_count, sizeof(*mds));
    if (mds == NULL) {
        fprintf(out, "component %s: out of memory listing %u memory "
                "domain(s)\n", attr.name, attr.md_resource_count);
        return;
    }
    attr.field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCES;
    attr.md_resources = mds;
    st = uct_component_query(component, &attr);
    if (st != UCS_OK) {
        fprintf(out, "component %s: cannot list its memory domains: %s\n",
                attr.name, ucs_status_string(st));
    } else {
        for (unsigned i = 0; i < attr.md_resource_count; i++) {
            rz_tp_info_print_md(out, component, mds[i].md_name);
        }
    }
    free(mds);
}

void rz_tp_print_resources(FILE *out)
{
    uct_component_h *components;
    unsigned num_components;
    ucs_status_t st;

    fprintf(out, "UCX version: %s\n", ucp_get_version_string());

    st = uct_query_components(&components, &num_components);
    if (st != UCS_OK) {
        fprintf(out, "(cannot list UCX components: %s)\n",
                ucs_status_string(st));
        return;
    }
    if (num_components == 0) {
        fprintf(out, "(UCX found no components: is its module directory "
                "installed?)\n");
    }
    for (unsigned i = 0; i < num_components; i++) {
        rz_tp_info_print_component(out, components[i]);
    }
    uct_release_component_list(components);
}
