# CMake package for the fraud-engine C library, installed by scripts/install-c.sh:
#
#   find_package(fraud_engine 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE fraud_engine::fraud_engine)   # shared
#   target_link_libraries(app PRIVATE fraud_engine::static)         # static
#
# Both targets carry the include directory: fraud_engine.h, and the C++17
# wrapper fraud_engine.hpp (a C++ project using it compiles as C++17 or later,
# the default of current compilers).

include(CMakeFindDependencyMacro)
find_dependency(Threads)

# <prefix>/lib/cmake/fraud_engine/ -> <prefix>
get_filename_component(_fraud_engine_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET fraud_engine::fraud_engine)
  add_library(fraud_engine::fraud_engine SHARED IMPORTED)
  set_target_properties(fraud_engine::fraud_engine PROPERTIES
    IMPORTED_LOCATION "${_fraud_engine_prefix}/lib/libfraud_engine.so.@VERSION@"
    IMPORTED_SONAME "libfraud_engine.so.@MAJOR@"
    INTERFACE_INCLUDE_DIRECTORIES "${_fraud_engine_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads")
endif()

if(NOT TARGET fraud_engine::static)
  add_library(fraud_engine::static STATIC IMPORTED)
  set_target_properties(fraud_engine::static PROPERTIES
    IMPORTED_LOCATION "${_fraud_engine_prefix}/lib/libfraud_engine.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_fraud_engine_prefix}/include"
    # What `rustc --print native-static-libs` lists for Rust's standard library.
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m;rt;util")
endif()

unset(_fraud_engine_prefix)
