/* The bf16 forward convolution of ResNet-34's 3x3 stride-1 shapes (batch 8; bf16 channels-last source,
   oneDNN's choice of weight layout, f32 channels-last destination): median of 21 timed runs after 5
   warm-up runs. Built against oneDNN 2.6 (v2 API) or, with -DV3, oneDNN 3.x (v3 API); see ./run. */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(){
  dnnl_engine_t e; dnnl_engine_create(&e, dnnl_cpu, 0);
  dnnl_stream_t str; dnnl_stream_create(&str,e,0);
  int shapes[4][2]={{64,56},{128,28},{256,14},{512,7}};
  for(int s=0;s<4;s++){
    int C=shapes[s][0],H=shapes[s][1];
    dnnl_dims_t sd={8,C,H,H}, wd={C,C,3,3}, st={1,1}, pd={1,1}, dl={0,0};
#ifdef V3
    dnnl_memory_desc_t src,dst,wany;
    dnnl_memory_desc_create_with_tag(&src,4,sd,dnnl_bf16,dnnl_nhwc);
    dnnl_memory_desc_create_with_tag(&dst,4,sd,dnnl_f32,dnnl_nhwc);
    dnnl_memory_desc_create_with_tag(&wany,4,wd,dnnl_bf16,dnnl_format_tag_any);
    dnnl_primitive_desc_t fpd;
    if(dnnl_convolution_forward_primitive_desc_create(&fpd,e,dnnl_forward_training,dnnl_convolution_direct,src,wany,NULL,dst,st,dl,pd,pd,NULL)){printf("fail\n");return 1;}
    const_dnnl_memory_desc_t w = dnnl_primitive_desc_query_md(fpd,dnnl_query_weights_md,0);
    dnnl_memory_t m1,m2,m3; dnnl_memory_create(&m1,src,e,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&m2,w,e,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&m3,dst,e,DNNL_MEMORY_ALLOCATE);
#else
    dnnl_memory_desc_t src,dst,wany;
    dnnl_memory_desc_init_by_tag(&src,4,sd,dnnl_bf16,dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&dst,4,sd,dnnl_f32,dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&wany,4,wd,dnnl_bf16,dnnl_format_tag_any);
    dnnl_convolution_desc_t fd; dnnl_dilated_convolution_forward_desc_init(&fd,dnnl_forward_training,dnnl_convolution_direct,&src,&wany,NULL,&dst,st,dl,pd,pd);
    dnnl_primitive_desc_t fpd; dnnl_primitive_desc_create(&fpd,&fd,NULL,e,NULL);
    const dnnl_memory_desc_t* w = dnnl_primitive_desc_query_md(fpd,dnnl_query_weights_md,0);
    dnnl_memory_t m1,m2,m3; dnnl_memory_create(&m1,&src,e,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&m2,w,e,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&m3,&dst,e,DNNL_MEMORY_ALLOCATE);
#endif
    const char* impl; dnnl_primitive_desc_query(fpd,dnnl_query_impl_info_str,0,&impl);
    dnnl_primitive_t p; dnnl_primitive_create(&p,fpd);
    dnnl_exec_arg_t a[3]={{DNNL_ARG_SRC,m1},{DNNL_ARG_WEIGHTS,m2},{DNNL_ARG_DST,m3}};
    for(int i=0;i<5;i++) dnnl_primitive_execute(p,str,3,a); dnnl_stream_wait(str);
    double t[21]; for(int i=0;i<21;i++){double t0=now(); dnnl_primitive_execute(p,str,3,a); dnnl_stream_wait(str); t[i]=now()-t0;}
    qsort(t,21,sizeof(double),cmp);
    double fl=2.0*8*C*H*H*C*9;
    printf("%d@%d %s %.3f ms %.0f GFLOP/s\n",C,H,impl,t[10]*1e3,fl/t[10]/1e9);
  }
  return 0;}
