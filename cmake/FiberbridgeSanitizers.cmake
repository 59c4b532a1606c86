# fiberbridge_sanitize(<target>): applies FIBERBRIDGE_SANITIZER to a target.
# Sanitizer builds must use a Boost.Context/Fiber built with ucontext and BOOST_USE_ASAN /
# BOOST_USE_TSAN (scripts/sanitizer-boost.sh); point CMAKE_PREFIX_PATH / Boost_DIR at it.
function(fiberbridge_sanitize target)
  if(FIBERBRIDGE_SANITIZER STREQUAL "asan")
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
                                            -fno-sanitize-recover=undefined)
    target_compile_definitions(${target} PUBLIC BOOST_USE_ASAN BOOST_USE_UCONTEXT)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  elseif(FIBERBRIDGE_SANITIZER STREQUAL "tsan")
    target_compile_options(${target} PUBLIC -fsanitize=thread -fno-omit-frame-pointer)
    target_compile_definitions(${target} PUBLIC BOOST_USE_TSAN BOOST_USE_UCONTEXT)
    target_link_options(${target} PUBLIC -fsanitize=thread)
  elseif(NOT FIBERBRIDGE_SANITIZER STREQUAL "")
    message(FATAL_ERROR "FIBERBRIDGE_SANITIZER must be '', 'asan' or 'tsan', not '${FIBERBRIDGE_SANITIZER}'")
  endif()
endfunction()
